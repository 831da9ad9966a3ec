// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sys/caps.h"

/* glibc has no wrapper and libcap is not needed for three calls */
static int caps_get(struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3])
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capget, &header, data) ? -errno : 0;
}

bool caps_have(int cap)
{
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	if (caps_get(data))
		return false;
	return data[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap);
}

int caps_drop_for_exec(void)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	int i, err;

	/* ambient capabilities survive exec into any program: setpriv's and capsh's way */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	/* inheritable ones reach a program whose file has them inheritable */
	err = caps_get(data);
	if (err)
		return err;
	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		data[i].inheritable = 0;
	return syscall(SYS_capset, &header, data) ? -errno : 0;
}

/* pmemprobe [-w] [-p] [-r] [-n] [-u] [-d DEV] OFFSET LENGTH: maps LENGTH bytes of /dev/gpufas_pmem
 * (or DEV) at OFFSET and prints "ok" and the first 8 bytes, or the call that failed and why.
 * -w writable (open O_RDWR, PROT_WRITE), -p MAP_PRIVATE, -r read() instead of mmap, -n without
 * CAP_SYS_RAWIO, -u as user nobody (65534). Exit 0 when the access worked, 1 when refused.
 * test_host.py checks with it what kmod/gpufas_pmem.ko lets through. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("%s: %s\n", what, strerror(errno));
	return 1;
}

static int drop_rawio(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_SYS_RAWIO / 32].effective &= ~(1u << (CAP_SYS_RAWIO % 32));
	return (int)syscall(SYS_capset, &h, d);
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/gpufas_pmem";
	int w = 0, priv = 0, rd = 0, c, fd;
	unsigned long long off, len;
	unsigned char *p, buf[8];

	while ((c = getopt(argc, argv, "wprnud:")) != -1) {
		if (c == 'w') w = 1;
		else if (c == 'p') priv = 1;
		else if (c == 'r') rd = 1;
		else if (c == 'n' && drop_rawio()) return fail("capset");
		else if (c == 'u' && setuid(65534)) return fail("setuid");
		else if (c == 'd') dev = optarg;
		else if (c == '?') return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: pmemprobe [-w] [-p] [-r] [-n] [-u] [-d DEV] OFFSET LENGTH\n");
		return 2;
	}
	off = strtoull(argv[optind], NULL, 0);
	len = strtoull(argv[optind + 1], NULL, 0);
	if ((fd = open(dev, w ? O_RDWR : O_RDONLY)) < 0)
		return fail("open");
	if (rd) {
		if (pread(fd, buf, sizeof buf, (off_t)off) < 0)
			return fail("read");
		p = buf;
	} else {
		p = mmap(NULL, len, PROT_READ | (w ? PROT_WRITE : 0), priv ? MAP_PRIVATE : MAP_SHARED,
			 fd, (off_t)off);
		if (p == MAP_FAILED)
			return fail("mmap");
	}
	printf("ok");
	for (int i = 0; i < 8; i++)
		printf(" %02x", p[i]);
	printf("\n");
	return 0;
}

/*
 * fsutil.c - file system helpers.
 */
#include "base/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/xalloc.h"

/* write(2) (off < 0) or pwrite(2) until n bytes are out; EINTR retried. */
static int write_loop(int fd, const void *p, size_t n, off_t off)
{
	const char *c = p;
	while (n) {
		ssize_t w = off < 0 ? write(fd, c, n) : pwrite(fd, c, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

int fs_write_all(int fd, const void *p, size_t n)
{
	return write_loop(fd, p, n, -1);
}

int fs_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	return write_loop(fd, p, n, off);
}

int fs_pread_all(int fd, void *p, size_t n, off_t off)
{
	char *c = p;
	while (n) {
		ssize_t r = pread(fd, c, n, off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		c += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

int fs_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int fs_mkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int fs_mkdir_for(const char *file, mode_t mode)
{
	const char *slash = strrchr(file, '/');
	if (!slash || slash == file)
		return 0;
	size_t n = (size_t)(slash - file);
	char *dir = malloc(n + 1);
	if (!dir)
		return -1;
	memcpy(dir, file, n);
	dir[n] = '\0';
	int rc = 0;
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, mode) == 0) {
			chmod(dir, mode); /* whatever the umask */
			rc = c == '\0' ? 1 : rc;
		} else if (errno != EEXIST) {
			rc = -1;
		}
		*p = c;
		if (c == '\0' || rc < 0)
			break;
	}
	int e = errno;
	free(dir);
	errno = e;
	return rc;
}

int fs_read_file(const char *path, size_t max, char **data_out, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		goto fail;
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	size_t n = (size_t)st.st_size;
	char *data = xmalloc(n + 1);
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, data + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	data[got] = '\0';
	close(fd);
	*data_out = data;
	*len_out = got;
	return 0;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

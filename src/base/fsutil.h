/*
 * fsutil.h - file system helpers with explicit error results.
 *
 * All functions return 0 on success or -1 with errno set; none of them
 * abort. write_all/pwrite_all retry short writes and EINTR.
 */
#ifndef BASE_FSUTIL_H
#define BASE_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

int fs_write_all(int fd, const void *p, size_t n);
int fs_pwrite_all(int fd, const void *p, size_t n, off_t off);
/* Read exactly n bytes at off; -1 with errno = EIO on a short file. */
int fs_pread_all(int fd, void *p, size_t n, off_t off);
/* fsync a directory by path. */
int fs_fsync_dir(const char *path);
/* mkdir with mode; an existing directory is fine. */
int fs_mkdir(const char *path, mode_t mode);
/* The directory a file path names and its missing parents (mkdir -p),
 * those created given mode whatever the umask. 1: the file's directory
 * was created now, 0: it existed (or path has no directory part), -1. */
int fs_mkdir_for(const char *file, mode_t mode);
/* Read a whole (small) file into a malloc'ed NUL-terminated buffer. Files
 * larger than max are an error (EFBIG). */
int fs_read_file(const char *path, size_t max, char **data_out, size_t *len_out);

#endif

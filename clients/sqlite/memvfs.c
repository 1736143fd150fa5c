/*
 * memvfs.c: sqlite's operating-system layer for a program with no file system (built with
 * SQLITE_OS_OTHER=1): every file lives in memory, in chunks of 32 KiB from malloc (as
 * sqlite's own in-memory journal keeps its data), so the database, its journal and any
 * temporary file are heap traffic like any other. Randomness and time are fixed, so that a
 * run does the same allocations every time.
 */

#include <stdlib.h>
#include <string.h>

#include "sqlite3.h"

#define MAX_FILES 16
#define MAX_NAME 128
#define CHUNK 32768

/* A file: its name, its bytes in chunks, and how many handles have it open. */
struct mem_file {
  char name[MAX_NAME];
  unsigned char **chunks;
  int nchunks;
  sqlite3_int64 size;
  int opens;
  int used;
};

static struct mem_file files[MAX_FILES];

/* An open handle: sqlite3_file first, as every VFS's. */
struct mem_handle {
  sqlite3_file base;
  struct mem_file *file;
  int delete_on_close;
};

static void file_drop(struct mem_file *f) {
  for (int i = 0; i < f->nchunks; i++) free(f->chunks[i]);
  free(f->chunks);
  memset(f, 0, sizeof *f);
}

/* Makes the file hold `end` bytes of chunks (new ones zeroed); 0 when memory is short. */
static int file_reserve(struct mem_file *f, sqlite3_int64 end) {
  int need = (int)((end + CHUNK - 1) / CHUNK);
  if (need <= f->nchunks) return 1;
  unsigned char **grown = realloc(f->chunks, need * sizeof *grown);
  if (grown == NULL) return 0;
  f->chunks = grown;
  while (f->nchunks < need) {
    unsigned char *c = calloc(1, CHUNK);
    if (c == NULL) return 0;
    f->chunks[f->nchunks++] = c;
  }
  return 1;
}

static struct mem_file *file_find(const char *name) {
  for (int i = 0; i < MAX_FILES; i++) {
    if (files[i].used && strcmp(files[i].name, name) == 0) return &files[i];
  }
  return NULL;
}

static int mem_close(sqlite3_file *pf) {
  struct mem_handle *h = (struct mem_handle *)pf;
  if (--h->file->opens == 0 && h->delete_on_close) file_drop(h->file);
  return SQLITE_OK;
}

/* Copies n bytes at offset off of the file to (to_file) or from buf, chunk by chunk. */
static void file_copy(struct mem_file *f, unsigned char *buf, int n, sqlite3_int64 off,
                      int to_file) {
  while (n > 0) {
    unsigned char *c = f->chunks[off / CHUNK] + off % CHUNK;
    int k = CHUNK - (int)(off % CHUNK);
    if (k > n) k = n;
    if (to_file) memcpy(c, buf, k);
    else memcpy(buf, c, k);
    buf += k;
    off += k;
    n -= k;
  }
}

static int mem_read(sqlite3_file *pf, void *buf, int n, sqlite3_int64 off) {
  struct mem_file *f = ((struct mem_handle *)pf)->file;
  sqlite3_int64 have = off < f->size ? f->size - off : 0;
  if (have < n) {
    file_copy(f, buf, (int)have, off, 0);
    memset((char *)buf + have, 0, n - have);
    return SQLITE_IOERR_SHORT_READ;
  }
  file_copy(f, buf, n, off, 0);
  return SQLITE_OK;
}

static int mem_write(sqlite3_file *pf, const void *buf, int n, sqlite3_int64 off) {
  struct mem_file *f = ((struct mem_handle *)pf)->file;
  if (!file_reserve(f, off + n)) return SQLITE_IOERR_NOMEM;
  file_copy(f, (unsigned char *)buf, n, off, 1);
  if (off + n > f->size) f->size = off + n;
  return SQLITE_OK;
}

/* Shrinks the file, giving back the chunks past its new end (and zeroing the rest of its last). */
static int mem_truncate(sqlite3_file *pf, sqlite3_int64 size) {
  struct mem_file *f = ((struct mem_handle *)pf)->file;
  if (size >= f->size) return SQLITE_OK;
  int keep = (int)((size + CHUNK - 1) / CHUNK);
  while (f->nchunks > keep) free(f->chunks[--f->nchunks]);
  if (size % CHUNK != 0) memset(f->chunks[keep - 1] + size % CHUNK, 0, CHUNK - size % CHUNK);
  f->size = size;
  return SQLITE_OK;
}

static int mem_sync(sqlite3_file *pf, int flags) {
  (void)pf;
  (void)flags;
  return SQLITE_OK;
}

static int mem_file_size(sqlite3_file *pf, sqlite3_int64 *size) {
  *size = ((struct mem_handle *)pf)->file->size;
  return SQLITE_OK;
}

/* One process, one connection at a time: every lock is granted. */
static int mem_lock(sqlite3_file *pf, int level) {
  (void)pf;
  (void)level;
  return SQLITE_OK;
}

static int mem_check_reserved(sqlite3_file *pf, int *out) {
  (void)pf;
  *out = 0;
  return SQLITE_OK;
}

static int mem_file_control(sqlite3_file *pf, int op, void *arg) {
  (void)pf;
  (void)op;
  (void)arg;
  return SQLITE_NOTFOUND;
}

static int mem_sector_size(sqlite3_file *pf) {
  (void)pf;
  return 4096;
}

static int mem_device_characteristics(sqlite3_file *pf) {
  (void)pf;
  return SQLITE_IOCAP_ATOMIC | SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_SEQUENTIAL |
         SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

static const sqlite3_io_methods mem_io = {
    1, mem_close, mem_read, mem_write, mem_truncate, mem_sync, mem_file_size, mem_lock,
    mem_lock, mem_check_reserved, mem_file_control, mem_sector_size, mem_device_characteristics,
};

static int temp_serial;

static int mem_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags,
                    int *out_flags) {
  (void)vfs;
  struct mem_handle *h = (struct mem_handle *)pf;
  char temp[32];
  if (name == NULL) {
    sqlite3_snprintf(sizeof temp, temp, "/temp-%d", ++temp_serial);
    name = temp;
  }
  if (strlen(name) >= MAX_NAME) return SQLITE_CANTOPEN;
  struct mem_file *f = file_find(name);
  if (f == NULL) {
    if ((flags & SQLITE_OPEN_CREATE) == 0) return SQLITE_CANTOPEN;
    for (int i = 0; i < MAX_FILES && f == NULL; i++) {
      if (!files[i].used) f = &files[i];
    }
    if (f == NULL) return SQLITE_CANTOPEN;
    memset(f, 0, sizeof *f);
    strcpy(f->name, name);
    f->used = 1;
  }
  f->opens++;
  h->base.pMethods = &mem_io;
  h->file = f;
  h->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
  if (out_flags) *out_flags = flags;
  return SQLITE_OK;
}

static int mem_delete(sqlite3_vfs *vfs, const char *name, int sync) {
  (void)vfs;
  (void)sync;
  struct mem_file *f = file_find(name);
  if (f != NULL && f->opens == 0) file_drop(f);
  return SQLITE_OK;
}

static int mem_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
  (void)vfs;
  (void)flags;
  struct mem_file *f = file_find(name);
  *out = f != NULL && f->size > 0;
  return SQLITE_OK;
}

static int mem_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
  (void)vfs;
  sqlite3_snprintf(n, out, "%s", name);
  return SQLITE_OK;
}

/* A fixed sequence (xorshift), so that every run does the same. */
static int mem_randomness(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  static unsigned int x = 2463534242u;
  for (int i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = (char)x;
  }
  return n;
}

static int mem_sleep(sqlite3_vfs *vfs, int us) {
  (void)vfs;
  return us;
}

/* 2026-01-01 00:00:00 UTC as a Julian day number in milliseconds. */
static int mem_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t) {
  (void)vfs;
  *t = 212444668800000LL + 1767225600000LL;
  return SQLITE_OK;
}

static int mem_current_time(sqlite3_vfs *vfs, double *t) {
  sqlite3_int64 ms;
  mem_current_time64(vfs, &ms);
  *t = ms / 86400000.0;
  return SQLITE_OK;
}

static int mem_last_error(sqlite3_vfs *vfs, int n, char *out) {
  (void)vfs;
  (void)n;
  (void)out;
  return 0;
}

static sqlite3_vfs mem_vfs = {
    2,    sizeof(struct mem_handle), MAX_NAME, NULL,           "memvfs",
    NULL, mem_open,                  mem_delete, mem_access,   mem_full_pathname,
    NULL, NULL,                      NULL,       NULL,         mem_randomness,
    mem_sleep, mem_current_time,     mem_last_error, mem_current_time64,
};

int sqlite3_os_init(void) { return sqlite3_vfs_register(&mem_vfs, 1); }

int sqlite3_os_end(void) {
  for (int i = 0; i < MAX_FILES; i++) {
    if (files[i].used) file_drop(&files[i]);
  }
  return SQLITE_OK;
}

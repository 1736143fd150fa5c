/*
 * csem.c: what C (C17, POSIX) promises of the malloc family, checked from C. It passes on
 * wasi-libc's dlmalloc and on kmem alike; each check prints "ok" or "not ok" and a name, and
 * the exit status is the number that failed.
 *
 *   csem                 the checks
 *   csem double-free     frees a block twice (kmem reports it: the call traps, or with
 *   csem invalid-free    misuse "log" the program goes on); frees a pointer into a block
 */

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failed;

/*
 * Sizes and functions the compiler cannot see through: it may assume what malloc returns for
 * a size it knows, and clang 14 assumes the malloc family leaves errno alone.
 */
static volatile size_t size_max = SIZE_MAX;
static void *(*volatile malloc_f)(size_t) = malloc;
static void *(*volatile calloc_f)(size_t, size_t) = calloc;
static void *(*volatile realloc_f)(void *, size_t) = realloc;

static void check(int ok, const char *what) {
  printf("%s - %s\n", ok ? "ok" : "not ok", what);
  if (!ok) failed++;
}

static int aligned(void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static void misuse(const char *how) {
  char *p = malloc(100);
  printf("block %p\n", (void *)p);
  fflush(stdout);
  if (strcmp(how, "double-free") == 0) {
    free(p);
    free(p);
  } else {
    free(p + 16);
    free(p);
  }
  printf("the program went on\n");
}

int main(int argc, char **argv) {
  if (argc > 1) {
    misuse(argv[1]);
    return 0;
  }

  /* malloc: suitably aligned for any type (max_align_t: 16 on wasm32), blocks apart. */
  enum { N = 600 };
  static unsigned char *blocks[N];
  static size_t sizes[N];
  int all_aligned = 1, all_usable = 1;
  for (int i = 0; i < N; i++) {
    sizes[i] = i < 300 ? (size_t)i : (size_t)(i - 299) * 97;
    blocks[i] = malloc(sizes[i]);
    if (blocks[i] == NULL || !aligned(blocks[i], _Alignof(max_align_t))) all_aligned = 0;
    if (blocks[i] != NULL && malloc_usable_size(blocks[i]) < sizes[i]) all_usable = 0;
    if (blocks[i] != NULL) memset(blocks[i], i & 0xff, sizes[i]);
  }
  check(all_aligned, "malloc: every size from 0 up aligned to max_align_t (16)");
  check(all_usable, "malloc_usable_size: at least the size asked for");
  int intact = 1;
  for (int i = 0; i < N; i++) {
    for (size_t k = 0; k < sizes[i]; k++) {
      if (blocks[i][k] != (i & 0xff)) intact = 0;
    }
    free(blocks[i]);
  }
  check(intact, "blocks do not overlap: each keeps its bytes");

  void *zero = malloc(0);
  void *zero2 = malloc(0);
  check(zero != NULL && zero2 != NULL && zero != zero2, "malloc(0): distinct pointers");
  free(zero);
  free(zero2);
  free(NULL);
  check(1, "free(NULL) does nothing");

  errno = 0;
  void *huge = malloc_f(size_max);
  check(huge == NULL && errno == ENOMEM, "malloc(SIZE_MAX): NULL, errno ENOMEM");

  /* calloc: zeroed, overflow refused. */
  unsigned char *dirty = malloc(5000);
  memset(dirty, 0xee, 5000);
  free(dirty);
  unsigned char *z = calloc(1000, 5);
  int zeroed = z != NULL;
  for (int k = 0; z && k < 5000; k++) zeroed &= z[k] == 0;
  check(zeroed, "calloc: zeroed, also where a freed block was dirty");
  free(z);
  errno = 0;
  void *over = calloc_f(size_max / 2, 3);
  check(over == NULL && errno == ENOMEM, "calloc: NULL on overflow, ENOMEM");

  /* realloc: NULL is malloc, contents kept, failure leaves the block. */
  char *r = realloc(NULL, 10);
  check(r != NULL, "realloc(NULL, n) is malloc(n)");
  strcpy(r, "kmem-wasm");
  for (size_t n = 20; n < 200000; n *= 3) {
    r = realloc(r, n);
    if (r == NULL || strcmp(r, "kmem-wasm") != 0) break;
  }
  check(r != NULL && strcmp(r, "kmem-wasm") == 0, "realloc: contents kept as the block grows");
  r = realloc(r, 12);
  check(r != NULL && strcmp(r, "kmem-wasm") == 0, "realloc: contents kept as it shrinks");
  errno = 0;
  void *grown = realloc_f(r, size_max - 64);
  check(grown == NULL && errno == ENOMEM && strcmp(r, "kmem-wasm") == 0,
        "realloc: NULL with ENOMEM on failure, the block as it was");
  free(r);

  /* aligned_alloc and posix_memalign. */
  int ok = 1;
  for (size_t a = 1; a <= 4096; a *= 2) {
    void *p = aligned_alloc(a, 3 * a + 5);
    if (p == NULL || !aligned(p, a)) ok = 0;
    free(p);
  }
  check(ok, "aligned_alloc: powers of two up to 4096");
  void *m = (void *)1;
  check(posix_memalign(&m, 3, 64) == EINVAL && m == (void *)1,
        "posix_memalign: EINVAL for an alignment not a power of two, memptr untouched");
  check(posix_memalign(&m, 2, 64) == EINVAL, "posix_memalign: EINVAL below sizeof(void *)");
  check(posix_memalign(&m, 64, size_max - 64) == ENOMEM, "posix_memalign: ENOMEM when too big");
  check(posix_memalign(&m, 256, 1000) == 0 && aligned(m, 256), "posix_memalign: 0, aligned");
  free(m);
  check(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) is 0");

  printf("%d failed\n", failed);
  return failed;
}

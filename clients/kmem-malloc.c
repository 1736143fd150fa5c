/*
 * kmem-malloc.c: the malloc family of a C program compiled to WebAssembly, served by kmem from
 * JavaScript (WasmHeap of "kmem/wasm"). Compiled into the program, its definitions take the
 * place of the C library's (wasi-libc's dlmalloc stays out of the link); each forwards to the
 * import of the same name in "env" and sets errno as C requires.
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -o prog.wasm prog.c kmem-malloc.c \
 *     -Wl,--import-memory -Wl,--export=__heap_base
 */

#include <errno.h>
#include <stddef.h>

#define KMEM_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

KMEM_IMPORT(malloc) void *kmem_malloc(size_t size);
KMEM_IMPORT(free) void kmem_free(void *ptr);
KMEM_IMPORT(calloc) void *kmem_calloc(size_t count, size_t size);
KMEM_IMPORT(realloc) void *kmem_realloc(void *ptr, size_t size);
KMEM_IMPORT(aligned_alloc) void *kmem_aligned_alloc(size_t alignment, size_t size);
KMEM_IMPORT(posix_memalign) int kmem_posix_memalign(void **memptr, size_t alignment, size_t size);
KMEM_IMPORT(malloc_usable_size) size_t kmem_malloc_usable_size(void *ptr);

void *malloc(size_t size) {
  void *p = kmem_malloc(size);
  if (p == NULL) errno = ENOMEM;
  return p;
}

void free(void *ptr) { kmem_free(ptr); }

void *calloc(size_t count, size_t size) {
  void *p = kmem_calloc(count, size);
  if (p == NULL) errno = ENOMEM;
  return p;
}

/* realloc(p, 0) frees p and returns NULL without an error, as dlmalloc's and glibc's. */
void *realloc(void *ptr, size_t size) {
  void *p = kmem_realloc(ptr, size);
  if (p == NULL && (size != 0 || ptr == NULL)) errno = ENOMEM;
  return p;
}

void *aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  void *p = kmem_aligned_alloc(alignment, size);
  if (p == NULL) errno = ENOMEM;
  return p;
}

int posix_memalign(void **memptr, size_t alignment, size_t size) {
  return kmem_posix_memalign(memptr, alignment, size);
}

size_t malloc_usable_size(void *ptr) { return kmem_malloc_usable_size(ptr); }

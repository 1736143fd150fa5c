/*
 * Memory bugs planted for KASAN (docs/sanitizers.md, "WebAssembly clients"): each export
 * makes one access a C program must not, through volatile pointers so that the compiler
 * keeps it; `clean` does the ordinary work of a C program (strings, lists, realloc, qsort)
 * and must run without a report. Built as a library (a WASI reactor) by clients/build.js,
 * instrumented with binaryen's wasm-opt --instrument-memory for the bugs-kasan variant.
 */

#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/* A heap out-of-bounds write: the byte just past an n-byte block. */
EXPORT(oob_write) int oob_write(int n) {
  char *p = malloc(n);
  if (p == NULL) return -1;
  memset(p, 'x', n);
  ((volatile char *)p)[n] = 0;
  free(p);
  return 0;
}

/* A use after free: a read of a block freed just before. */
EXPORT(uaf_read) int uaf_read(void) {
  int *p = malloc(10 * sizeof(int));
  if (p == NULL) return -1;
  for (int i = 0; i < 10; i++) p[i] = i * i;
  free(p);
  return ((volatile int *)p)[3];
}

/* A read left of a block (its left red zone). */
EXPORT(underflow_read) int underflow_read(int n) {
  char *p = calloc(n, 1);
  if (p == NULL) return -1;
  int v = ((volatile char *)p)[-1];
  free(p);
  return v;
}

struct node {
  struct node *next;
  char *name;
  int value;
};

static int by_value(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* Ordinary work, in bounds: a list of named nodes, strings of every length, a growing
 * array, a sort; returns a checksum. */
EXPORT(clean) int clean(int rounds) {
  unsigned sum = 0;
  struct node *head = NULL;
  for (int i = 0; i < rounds; i++) {
    struct node *n = malloc(sizeof *n);
    if (n == NULL) return -1;
    int len = 1 + i % 37;
    n->name = malloc(len + 1);
    if (n->name == NULL) return -1;
    for (int j = 0; j < len; j++) n->name[j] = (char)('a' + (i + j) % 26);
    n->name[len] = 0;
    n->value = (i * 7919) % 1000;
    n->next = head;
    head = n;
  }
  int *values = NULL;
  int count = 0;
  for (struct node *n = head; n != NULL; n = n->next) {
    sum += (unsigned)strlen(n->name);
    char *copy = strdup(n->name);
    if (copy == NULL) return -1;
    sum += (unsigned)(strcmp(copy, n->name) == 0);
    free(copy);
    int *grown = realloc(values, (count + 1) * sizeof *values);
    if (grown == NULL) return -1;
    values = grown;
    values[count++] = n->value;
  }
  qsort(values, count, sizeof *values, by_value);
  for (int i = 0; i < count; i++) sum = sum * 31 + (unsigned)values[i];
  free(values);
  while (head != NULL) {
    struct node *next = head->next;
    free(head->name);
    free(head);
    head = next;
  }
  return (int)(sum & 0x7fffffff);
}

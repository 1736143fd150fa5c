/*
 * kmem-replay-native: replays a trace against the C library's malloc (glibc's, where the
 * workbench is built on glibc), so that a report can show kmem beside the allocator every C
 * programmer knows. The workbench compiles it on first use (src/native.ts) and drives it; it
 * measures what src/replay.ts measures, the same way:
 *
 *   kmem-replay-native measured OPS_FILE TIME_LIMIT_MS CHECK
 *   kmem-replay-native timed OPS_FILE TIME_LIMIT_MS MIN_TIMED_OPS WARM_OPS WARM_MS REPEAT_MS
 *
 * OPS_FILE is the trace decoded by the workbench: a header of three u32 (magic "KMRP", ids,
 * ops), then 12 bytes an op (u32 op: 0 a, 1 f, 2 r; u32 id; u32 size). Each pass runs in a
 * process of its own, so the measured pass starts from a fresh heap. The result is one JSON
 * object on standard output.
 *
 * Ops, as replay.ts: a -> malloc(max(n, 1)); f -> free; r -> realloc (a failed id allocates
 * anew); a failed request (NULL) is counted and its id's later ops skipped.
 *
 * timed     uncounted warm-up runs (WARM_OPS ops or WARM_MS), then runs of the whole trace
 *           (one, or several up to 20 and REPEAT_MS for a trace under MIN_TIMED_OPS ops),
 *           each freeing its leftovers after its clock stops; per run the ops served, the
 *           time, clock_gettime(CLOCK_MONOTONIC) read every 4,096 ops (and at the end), and
 *           the minor page faults. The heap is kept between runs (see timed()): every run
 *           over memory touched once, as replay.ts's.
 * measured  every op timed on its own (the median cost of an empty pair of clock reads
 *           subtracted; its 10th-90th percentile spread is the floor) into the log-linear
 *           histogram of latency.ts (32 buckets per power of two); payload after every op;
 *           footprint after every allocation; usable bytes (malloc_usable_size) of the live
 *           blocks at the payload peak; the contents check (a byte derived from the id and
 *           its generation, checked at free and across realloc: first, last and every 61st).
 *
 * Footprint: the memory the C library holds for the heap, as it reports it: the main arena's
 * extent (sbrk(0) less the break at the start: mallinfo2's arena while one thread allocates)
 * plus the chunks it mmapped for large requests (mallinfo2's hblkhd, read again after any
 * request or free of 128 KiB or more: smaller ones are never mmapped). The replayer's own
 * arrays are mmapped directly, outside the heap it measures.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { OP_ALLOC = 0, OP_FREE = 1, OP_REALLOC = 2 };
enum { SUB_BITS = 5, SUB = 1 << SUB_BITS, MAX_EXP = 40, BUCKETS = (MAX_EXP - SUB_BITS + 1) * SUB };
enum { MAX_RUNS = 20, TIMELINE_POINTS = 200, CHECK_STRIDE = 61 };
#define MMAP_MIN ((size_t)128 * 1024)

struct op {
  uint32_t op, id, size;
};

static const struct op *ops;
static uint32_t nops, nids;
static char stdout_buf[1 << 16];

static void die(const char *what) {
  fprintf(stderr, "kmem-replay-native: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Anonymous memory outside malloc's heap. */
static void *raw(size_t bytes) {
  void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap");
  return p;
}

static void load(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  struct stat st;
  if (fstat(fd, &st) != 0) die(path);
  const uint32_t *words = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (words == MAP_FAILED) die(path);
  close(fd);
  if (st.st_size < 12 || words[0] != 0x50524d4bu) {
    fprintf(stderr, "kmem-replay-native: %s: not an ops file\n", path);
    exit(1);
  }
  nids = words[1];
  nops = words[2];
  if ((uint64_t)st.st_size < 12 + (uint64_t)nops * 12) {
    fprintf(stderr, "kmem-replay-native: %s: truncated\n", path);
    exit(1);
  }
  ops = (const struct op *)(words + 3);
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Shell sort: qsort may call malloc, which would start the heap under measurement. */
static void sort_doubles(double *a, int n) {
  for (int gap = n / 2; gap > 0; gap /= 2)
    for (int i = gap; i < n; i++) {
      double v = a[i];
      int j = i;
      for (; j >= gap && a[j - gap] > v; j -= gap) a[j] = a[j - gap];
      a[j] = v;
    }
}

/* ---- timed pass ---- */

/* Minor page faults of this process so far (the kernel's first touch of a page). */
static long minor_faults(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

/* One run of up to `max_ops` ops; returns the ops done, *served the ops carried out,
 * *faults the minor page faults while the clock ran. */
static uint32_t run(void **h, uint32_t max_ops, double limit_ns, double deadline, double *ms,
                    uint32_t *served, int *stopped, long *faults) {
  memset(h, 0, (size_t)nids * sizeof *h);
  uint32_t unserved = 0, i = 0;
  long f0 = minor_faults();
  double t0 = now_ns(), start = t0;
  *stopped = 0;
  for (; i < max_ops; i++) {
    const struct op *o = &ops[i];
    if (o->op == OP_ALLOC) {
      void *p = malloc(o->size ? o->size : 1);
      h[o->id] = p;
      if (p == NULL) unserved++;
    } else if (o->op == OP_FREE) {
      if (h[o->id] != NULL) {
        free(h[o->id]);
        h[o->id] = NULL;
      } else unserved++;
    } else {
      void *p = h[o->id] == NULL ? malloc(o->size ? o->size : 1) : realloc(h[o->id], o->size ? o->size : 1);
      if (p == NULL) unserved++;
      else h[o->id] = p;
    }
    if ((i & 4095) == 4095) {
      double t = now_ns();
      if ((t - start > limit_ns && i + 1 < nops) || t > deadline) {
        *stopped = t - start > limit_ns && i + 1 < nops;
        i++;
        break;
      }
    }
  }
  double t1 = now_ns();
  *faults = minor_faults() - f0;
  *ms = (t1 - t0) / 1e6;
  *served = i - unserved;
  for (uint32_t id = 0; id < nids; id++) free(h[id]);
  return i;
}

static int timed(double limit_ms, double min_timed_ops, double warm_ops, double warm_ms, double repeat_ms) {
  /* Runs over memory touched once, as replay.ts's: the heap is not given back between runs
   * (every run's frees would otherwise trim it, and the next run would grow it again and
   * fault in every page: 1.8 M ops/s on a trace that only allocates 15 MB, against 56-98
   * with the heap kept). Setting the trim threshold ends glibc's dynamic mmap threshold,
   * which after the warm-up's frees would have risen to the largest block freed (at most
   * 32 MiB): it is set there, so that large blocks come from the heap as they would. */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  void **h = raw((size_t)nids * sizeof *h);
  double limit_ns = limit_ms * 1e6;
  double warm_deadline = now_ns() + (warm_ms < limit_ms ? warm_ms : limit_ms) * 1e6;
  double warmed = 0, ms;
  uint32_t served;
  int stopped;
  long faults[MAX_RUNS], f;
  for (int r = 0; r < MAX_RUNS && warmed < warm_ops; r++) {
    double left = warm_ops - warmed;
    warmed += run(h, left < nops ? (uint32_t)left : nops, INFINITY, warm_deadline, &ms, &served, &stopped, &f);
    if (now_ns() >= warm_deadline) break;
  }
  int runs = nops >= min_timed_ops ? 1 : (int)fmin(MAX_RUNS, ceil(min_timed_ops / fmax(1, nops)));
  double rates[MAX_RUNS], times[MAX_RUNS];
  int n = 0, complete = 1;
  uint32_t done = 0;
  double pass_start = now_ns();
  for (int r = 0; r < runs; r++) {
    done = run(h, nops, limit_ns, INFINITY, &ms, &served, &stopped, &f);
    faults[n] = f;
    times[n] = ms;
    rates[n++] = ms > 0 ? served / (ms / 1000) : 0;
    if (stopped) {
      complete = 0;
      break;
    }
    if ((now_ns() - pass_start) / 1e6 > repeat_ms) break;
  }
  printf("{\"ops\":%u,\"complete\":%s,\"runMs\":[", done, complete ? "true" : "false");
  for (int i = 0; i < n; i++) printf("%s%.6f", i ? "," : "", times[i]);
  printf("],\"rates\":[");
  for (int i = 0; i < n; i++) printf("%s%.3f", i ? "," : "", rates[i]);
  printf("],\"faults\":[");
  for (int i = 0; i < n; i++) printf("%s%ld", i ? "," : "", faults[i]);
  printf("]}\n");
  return 0;
}

/* ---- measured pass ---- */

static double hist[BUCKETS];

static int bucket_of(double v) {
  if (v < SUB) return (int)v;
  int e = (int)floor(log2(v));
  if (e >= MAX_EXP) return BUCKETS - 1;
  int sub = (int)floor(v / ldexp(1, e - SUB_BITS)) - SUB;
  return (e - SUB_BITS + 1) * SUB + sub;
}

static double bucket_low(int b) {
  if (b < SUB) return b;
  int e = b / SUB + SUB_BITS - 1;
  return (SUB + b % SUB) * ldexp(1, e - SUB_BITS);
}

static double bucket_high(int b) {
  if (b < SUB) return b;
  int e = b / SUB + SUB_BITS - 1;
  return (SUB + b % SUB + 1) * ldexp(1, e - SUB_BITS) - 1;
}

static uint8_t tag_of(uint32_t id, uint32_t gen) {
  return (uint8_t)((((id + 1) * 0x9e3779b1u) + gen * 0x85ebca6bu) >> 24) | 1;
}

/* First byte of [p, p+len) that is not `tag` (sparse), or -1. */
static long check_block(const uint8_t *p, size_t len, uint8_t tag) {
  if (len == 0) return -1;
  if (p[0] != tag) return 0;
  if (p[len - 1] != tag) return (long)len - 1;
  for (size_t k = CHECK_STRIDE; k + 1 < len; k += CHECK_STRIDE)
    if (p[k] != tag) return (long)k;
  return -1;
}

static char *brk0;
static size_t mmapped;

static size_t footprint(void) {
  return (size_t)((char *)sbrk(0) - brk0) + mmapped;
}

static void refresh_mmapped(void) {
  struct mallinfo2 m = mallinfo2();
  mmapped = m.hblkhd;
}

static int measured(double limit_ms, int check) {
  void **h = raw((size_t)nids * sizeof *h);
  uint32_t *size = raw((size_t)nids * sizeof *size);
  uint32_t *asked = raw((size_t)nids * sizeof *asked);
  size_t *usable = raw((size_t)nids * sizeof *usable);
  uint32_t *gen = raw((size_t)nids * sizeof *gen);
  /* The clock: an empty pair's median cost, and the spread of it (the floor). */
  enum { PAIRS = 20001 };
  double *d = raw(PAIRS * sizeof *d);
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < PAIRS; i++) {
      double a = now_ns();
      d[i] = now_ns() - a;
    }
  sort_doubles(d, PAIRS);
  double cost = d[PAIRS / 2];
  double floor_ns = fmax(1, round(d[(int)(0.9 * (PAIRS - 1))] - d[(int)(0.1 * (PAIRS - 1))]));
  brk0 = sbrk(0);
  refresh_mmapped();
  size_t mm0 = mmapped;
  mmapped = 0;
  uint32_t stride = nops > TIMELINE_POINTS ? (nops + TIMELINE_POINTS - 1) / TIMELINE_POINTS : 1;
  uint32_t *tl_op = raw((TIMELINE_POINTS + 4) * sizeof *tl_op);
  double *tl_fp = raw((TIMELINE_POINTS + 4) * sizeof *tl_fp);
  double *tl_pl = raw((TIMELINE_POINTS + 4) * sizeof *tl_pl);
  int tl = 0;
  tl_op[tl] = 0, tl_fp[tl] = 0, tl_pl[tl++] = 0;
  double payload = 0, usable_sum = 0, peak_payload = 0, peak_fp = 0, usable_at_peak = 0, fp_at_peak = 0;
  double count = 0, max_ns = 0;
  uint32_t requests = 0, failures = 0, done = 0;
  int complete = 1;
  char error[512] = "";
  double start = now_ns();
#define RECORD(t0, t1)                                        \
  do {                                                        \
    double v = (t1) - (t0) - cost;                            \
    v = v < 0 ? 0 : round(v);                                 \
    if (v > max_ns) max_ns = v;                               \
    hist[bucket_of(v)]++;                                     \
    count++;                                                  \
  } while (0)
#define BIG(n) ((n) >= MMAP_MIN - 64)
  for (uint32_t i = 0; i < nops; i++) {
    const struct op *o = &ops[i];
    uint32_t id = o->id, want = o->size, sz = want ? want : 1;
    void *old = h[id];
    if (o->op == OP_ALLOC) {
      requests++;
      double t0 = now_ns();
      void *p = malloc(sz);
      double t1 = now_ns();
      RECORD(t0, t1);
      if (p == NULL) failures++;
      else {
        h[id] = p, size[id] = sz, asked[id] = want, gen[id]++;
        usable[id] = malloc_usable_size(p);
        usable_sum += usable[id];
        payload += want;
        if (check) memset(p, tag_of(id, gen[id]), sz);
        if (BIG(sz)) refresh_mmapped(), mmapped -= mm0;
        double fp = footprint();
        if (fp > peak_fp) peak_fp = fp;
      }
    } else if (o->op == OP_FREE) {
      if (old != NULL) {
        long at = check ? check_block(old, size[id], tag_of(id, gen[id])) : -1;
        if (at >= 0) {
          snprintf(error, sizeof error, "contents check failed at free: block of id %u (%u bytes), byte %ld", id, size[id], at);
          done = i;
          complete = 0;
          break;
        }
        int big = BIG(size[id]);
        double t0 = now_ns();
        free(old);
        double t1 = now_ns();
        RECORD(t0, t1);
        h[id] = NULL;
        payload -= asked[id];
        usable_sum -= usable[id];
        if (big) refresh_mmapped(), mmapped -= mm0;
      }
    } else {
      requests++;
      uint32_t was = size[id];
      if (old != NULL && check) {
        long at = check_block(old, was, tag_of(id, gen[id]));
        if (at >= 0) {
          snprintf(error, sizeof error, "contents check failed before realloc: block of id %u, byte %ld", id, at);
          done = i;
          complete = 0;
          break;
        }
      }
      double t0 = now_ns();
      void *p = old == NULL ? malloc(sz) : realloc(old, sz);
      double t1 = now_ns();
      RECORD(t0, t1);
      if (p == NULL) failures++;
      else {
        if (old != NULL) {
          uint32_t keep = was < sz ? was : sz;
          long at = check ? check_block(p, keep, tag_of(id, gen[id])) : -1;
          if (at >= 0) {
            snprintf(error, sizeof error, "contents check failed after realloc: block of id %u, byte %ld", id, at);
            done = i;
            complete = 0;
            break;
          }
          payload -= asked[id];
          usable_sum -= usable[id];
        }
        h[id] = p, size[id] = sz, asked[id] = want, gen[id]++;
        usable[id] = malloc_usable_size(p);
        usable_sum += usable[id];
        payload += want;
        if (check) memset(p, tag_of(id, gen[id]), sz);
        if (BIG(sz) || BIG(was)) refresh_mmapped(), mmapped -= mm0;
        double fp = footprint();
        if (fp > peak_fp) peak_fp = fp;
      }
    }
    if (payload > peak_payload) {
      peak_payload = payload;
      usable_at_peak = usable_sum;
      fp_at_peak = footprint();
    }
    done = i + 1;
    if (done % stride == 0 && tl < TIMELINE_POINTS + 2) {
      tl_op[tl] = done, tl_fp[tl] = footprint(), tl_pl[tl++] = payload;
    }
    if ((done & 16383) == 0 && done < nops && (now_ns() - start) / 1e6 > limit_ms) {
      complete = 0;
      break;
    }
  }
  if (tl_op[tl - 1] != done) tl_op[tl] = done, tl_fp[tl] = footprint(), tl_pl[tl++] = payload;
  uint32_t left_blocks = 0;
  double left_bytes = 0;
  for (uint32_t id = 0; id < nids; id++)
    if (h[id] != NULL) left_blocks++, left_bytes += asked[id];
  /* Percentiles as latency.ts reads them: the upper bound of the bucket, at most the max. */
  double q[3] = {0.5, 0.99, 0.999}, pv[3] = {0, 0, 0};
  for (int k = 0; k < 3; k++) {
    double rank = fmax(1, ceil(q[k] * count)), seen = 0;
    pv[k] = max_ns;
    for (int b = 0; b < BUCKETS; b++) {
      seen += hist[b];
      if (seen >= rank) {
        pv[k] = fmin(bucket_high(b), max_ns);
        break;
      }
    }
    if (count == 0) pv[k] = 0;
  }
  printf("{\"ops\":%u,\"complete\":%s,\"peakPayloadBytes\":%.0f,\"peakFootprintBytes\":%.0f,"
         "\"usableAtPeak\":%.0f,\"footprintAtPeak\":%.0f,\"requests\":%u,\"failures\":%u,"
         "\"latencyNs\":{\"p50\":%.0f,\"p99\":%.0f,\"p999\":%.0f,\"max\":%.0f,\"samples\":%.0f,\"floorNs\":%.0f},"
         "\"leftovers\":{\"blocks\":%u,\"bytes\":%.0f},\"error\":",
         done, complete ? "true" : "false", peak_payload, peak_fp, usable_at_peak, fp_at_peak,
         requests, failures, pv[0], pv[1], pv[2], max_ns, count, floor_ns, left_blocks, left_bytes);
  if (error[0] == 0) printf("null");
  else printf("\"%s\"", error);
  printf(",\"buckets\":[");
  int first = 1;
  for (int b = 0; b < BUCKETS; b++) {
    if (hist[b] == 0) continue;
    printf("%s[%.0f,%.0f,%.0f]", first ? "" : ",", bucket_low(b), bucket_high(b), hist[b]);
    first = 0;
  }
  printf("],\"timeline\":{\"op\":[");
  for (int i = 0; i < tl; i++) printf("%s%u", i ? "," : "", tl_op[i]);
  printf("],\"footprintBytes\":[");
  for (int i = 0; i < tl; i++) printf("%s%.0f", i ? "," : "", tl_fp[i]);
  printf("],\"payloadBytes\":[");
  for (int i = 0; i < tl; i++) printf("%s%.0f", i ? "," : "", tl_pl[i]);
  printf("]}}\n");
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);
  if (argc >= 5 && strcmp(argv[1], "measured") == 0) {
    load(argv[2]);
    return measured(atof(argv[3]), atoi(argv[4]));
  }
  if (argc >= 8 && strcmp(argv[1], "timed") == 0) {
    load(argv[2]);
    return timed(atof(argv[3]), atof(argv[4]), atof(argv[5]), atof(argv[6]), atof(argv[7]));
  }
  fprintf(stderr,
          "usage: kmem-replay-native measured OPS_FILE TIME_LIMIT_MS CHECK\n"
          "       kmem-replay-native timed OPS_FILE TIME_LIMIT_MS MIN_TIMED_OPS WARM_OPS WARM_MS REPEAT_MS\n");
  return 2;
}

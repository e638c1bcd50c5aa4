/*
 * STREAM-style triad a[i] = b[i] + s * c[i] over three arrays much larger than the caches: the
 * memory-bandwidth limit that onnx-bench.ts sets each engine's weight bytes per token against.
 * Built and run by onnx-bench.ts (gcc -O3 -march=native -fopenmp); threads from OMP_NUM_THREADS.
 *   stream-triad <MiB per array> <repetitions>
 * Prints the best repetition's bandwidth in GB/s (10^9 bytes), counting 3 arrays per pass as STREAM
 * does (2 read + 1 written; the write-allocate read is not counted, so this is STREAM's figure).
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  const size_t mib = argc > 1 ? strtoul(argv[1], 0, 10) : 1024;
  const int reps = argc > 2 ? atoi(argv[2]) : 10;
  const size_t n = mib * 1024 * 1024 / sizeof(double);
  double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)), *c = malloc(n * sizeof(double));
  if (!a || !b || !c) {
    fprintf(stderr, "stream-triad: cannot allocate 3 x %zu MiB\n", mib);
    return 1;
  }
  /* First touch in parallel, so each thread's pages are its own (as STREAM does). */
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) a[i] = 1.0, b[i] = 2.0, c[i] = 0.5;
  double best = 0;
  for (int r = 0; r < reps; r++) {
    const double s = 3.0 + r;
    const double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
    const double t = omp_get_wtime() - t0;
    const double gbs = 3.0 * n * sizeof(double) / t / 1e9;
    if (gbs > best) best = gbs;
  }
  double check = 0;
  for (size_t i = 0; i < n; i += 4096) check += a[i];
  printf("%.3f %d %.1f\n", best, omp_get_max_threads(), check);
  return 0;
}

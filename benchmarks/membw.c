// This machine's memory bandwidth with 1 and 2 threads: the ceiling of the streaming paths in
// thread_scaling.py (legacy encoders read, decoders write). A path that one thread already runs
// at the 1-thread figure can only gain the 2-thread / 1-thread ratio from a second thread.
//   cc -O2 -mavx2 -pthread benchmarks/membw.c -o /tmp/membw && /tmp/membw
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N ((size_t)128 << 20)  // floats: 512 MiB, far past any cache

static float* a;
static int nthreads;
static float sink[2][8];  // every lane kept: the loads cannot be optimised away

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void* read_part(void* arg) {  // four independent sums: the loads, not the adds, set the pace
    const long id = (long)arg;
    const size_t b = N / nthreads * id, e = b + N / nthreads;
    __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (size_t i = b; i < e; i += 32)
        for (int k = 0; k < 4; ++k) s[k] = _mm256_add_ps(s[k], _mm256_load_ps(a + i + 8 * k));
    _mm256_storeu_ps(sink[id], _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])));
    return NULL;
}

static void* write_part(void* arg, int streaming) {
    const long id = (long)arg;
    const size_t b = N / nthreads * id, e = b + N / nthreads;
    const __m256 v = _mm256_set1_ps(1.0f);
    for (size_t i = b; i < e; i += 8) {
        if (streaming) _mm256_stream_ps(a + i, v);
        else _mm256_store_ps(a + i, v);
    }
    _mm_sfence();
    return NULL;
}
static void* write_plain(void* arg) { return write_part(arg, 0); }
static void* write_stream(void* arg) { return write_part(arg, 1); }

// GB/s of the best of 5 runs of fn over the whole array split across n threads
static double run(void* (*fn)(void*), int n) {
    double best = 1e9;
    for (int r = 0; r < 5; ++r) {
        pthread_t t[2];
        nthreads = n;
        const double t0 = now();
        for (long i = 0; i < n; ++i) pthread_create(&t[i], NULL, fn, (void*)i);
        for (int i = 0; i < n; ++i) pthread_join(t[i], NULL);
        const double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return N * sizeof(float) / best / 1e9;
}

int main(void) {
    a = aligned_alloc(64, N * sizeof(float));
    if (!a) return 1;
    memset(a, 0, N * sizeof(float));  // fault the pages in before timing
    double g[2][3];
    for (int n = 1; n <= 2; ++n) {
        g[n - 1][0] = run(read_part, n);
        g[n - 1][1] = run(write_plain, n);
        g[n - 1][2] = run(write_stream, n);
        printf("%d thread%s: read %5.1f GB/s, write %5.1f GB/s (plain stores), %5.1f GB/s (streaming stores)\n", n,
               n == 1 ? " " : "s", g[n - 1][0], g[n - 1][1], g[n - 1][2]);
    }
    printf("2 / 1 threads: read %.2fx, write %.2fx, streaming write %.2fx\n", g[1][0] / g[0][0], g[1][1] / g[0][1],
           g[1][2] / g[0][2]);
    free(a);
    return sink[0][0] == 42.0f;
}

// A small persistent pool that splits an index range across threads.
// Work items must be independent so that the result never depends on the thread count.
#pragma once
#include <cstdint>
#include <functional>

namespace dgk {

int hardware_threads();

// Calls fn(begin, end) over [0, n) split into contiguous chunks of at least `min_chunk` items (a
// few per thread), run on at most `threads` threads. Blocks until all are done; rethrows the first
// exception a chunk raised.
// If the pool is busy with another caller's job, runs the whole range on the calling thread.
void parallel_for(int64_t n, int threads, int64_t min_chunk,
                  const std::function<void(int64_t, int64_t)>& fn);

}  // namespace dgk

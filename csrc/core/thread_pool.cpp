// Persistent worker threads, created once on first use, so small calls pay no thread start-up.
#include "dgk/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace dgk {

int hardware_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

namespace {

constexpr int64_t kChunksPerThread = 4;

class Pool {
public:
    ~Pool() {
        {
            std::lock_guard<std::mutex> lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : workers_) t.join();
    }

    // Runs chunk(0..nchunks-1) on the caller and `threads - 1` workers, each taking the next chunk
    // as it gets free. Returns false if another job is running (the caller then runs inline).
    bool run(int threads, int nchunks, const std::function<void(int)>& chunk) {
        std::unique_lock<std::mutex> busy(job_mutex_, std::try_to_lock);
        if (!busy.owns_lock()) return false;
        ensure_workers(threads - 1);
        std::exception_ptr first_error;
        std::mutex err_m;
        const std::function<void(int)> guarded = [&](int c) {
            try {
                chunk(c);
            } catch (...) {
                std::lock_guard<std::mutex> lk(err_m);
                if (!first_error) first_error = std::current_exception();
            }
        };
        {
            std::lock_guard<std::mutex> lk(m_);
            task_ = &guarded;
            next_ = 1;  // chunk 0 runs on the calling thread
            total_ = nchunks;
            pending_ = nchunks - 1;
            ++generation_;
        }
        cv_.notify_all();
        guarded(0);
        // The caller also helps with chunks the workers have not picked up yet.
        for (;;) {
            int c;
            {
                std::lock_guard<std::mutex> lk(m_);
                if (next_ >= total_) break;
                c = next_++;
            }
            guarded(c);
            std::lock_guard<std::mutex> lk(m_);
            --pending_;
        }
        {
            std::unique_lock<std::mutex> lk(m_);
            done_cv_.wait(lk, [&] { return pending_ == 0; });
            task_ = nullptr;
        }
        if (first_error) std::rethrow_exception(first_error);
        return true;
    }

private:
    void ensure_workers(int want) {
        std::lock_guard<std::mutex> lk(m_);
        while (static_cast<int>(workers_.size()) < want) workers_.emplace_back([this] { loop(); });
    }

    void loop() {
        uint64_t seen = 0;
        std::unique_lock<std::mutex> lk(m_);
        for (;;) {
            cv_.wait(lk, [&] { return stop_ || (generation_ != seen && task_ && next_ < total_); });
            if (stop_) return;
            seen = generation_;
            while (task_ && next_ < total_) {
                const int c = next_++;
                const auto* task = task_;
                lk.unlock();
                (*task)(c);
                lk.lock();
                if (--pending_ == 0) done_cv_.notify_all();
            }
        }
    }

    std::mutex job_mutex_;
    std::mutex m_;
    std::condition_variable cv_, done_cv_;
    std::vector<std::thread> workers_;
    const std::function<void(int)>* task_ = nullptr;
    int next_ = 0, total_ = 0, pending_ = 0;
    uint64_t generation_ = 0;
    bool stop_ = false;
};

Pool& pool() {
    // Leaked on purpose: joining threads during static destruction at interpreter exit can deadlock.
    static Pool* p = new Pool();
    return *p;
}

}  // namespace

void parallel_for(int64_t n, int threads, int64_t min_chunk,
                  const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    min_chunk = std::max<int64_t>(1, min_chunk);
    const int64_t max_chunks = (n + min_chunk - 1) / min_chunk;
    const int64_t nthreads = std::min<int64_t>(std::max(1, threads), max_chunks);
    if (nthreads <= 1) {
        fn(0, n);
        return;
    }
    // Several chunks per thread, handed out as threads get free: a thread slowed down by another
    // process (or a slower core) takes fewer, instead of the whole call waiting for its half.
    int64_t nchunks = std::min<int64_t>(nthreads * kChunksPerThread, max_chunks);
    const int64_t per = (n + nchunks - 1) / nchunks;
    nchunks = (n + per - 1) / per;
    auto chunk = [&](int c) {
        const int64_t b = c * per, e = std::min(n, b + per);
        if (b < e) fn(b, e);
    };
    if (!pool().run(static_cast<int>(nthreads), static_cast<int>(nchunks), chunk)) fn(0, n);
}

}  // namespace dgk

#include "relay/commit_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace liaison::relay {

CommitThread::CommitThread() {
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd for the commit thread");
  thread_ = std::thread([this] { Loop(); });
}

CommitThread::~CommitThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();  // a running job finishes first: a commit is never cut short
  ::close(event_fd_);
}

void CommitThread::Start(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    job_ = std::move(job);
    done_ = false;
  }
  busy_ = true;
  wake_.notify_one();
}

bool CommitThread::TakeFinished() {
  if (!busy_) return false;
  {
    std::lock_guard lock(mutex_);
    if (!done_) return false;
    done_ = false;
  }
  uint64_t count = 0;
  while (::read(event_fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
  busy_ = false;
  return true;
}

void CommitThread::WaitFinished() {
  if (!busy_) return;
  {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return done_; });
  }
  (void)TakeFinished();
}

void CommitThread::Loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || static_cast<bool>(job_); });
    if (!job_) return;  // stopping with nothing to run
    std::function<void()> job = std::move(job_);
    job_ = nullptr;
    lock.unlock();
    job();
    lock.lock();
    done_ = true;
    const uint64_t one = 1;
    while (::write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
    wake_.notify_all();  // WaitFinished
  }
}

}  // namespace liaison::relay

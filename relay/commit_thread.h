// Runs the relay's durable commits on a thread of their own, one job at a time, so that the
// network thread keeps receiving, decoding, answering reads and pushing while a commit waits for
// the disk. What arrives during one commit becomes the next group commit: batches grow with load.
//
// Contract: Start() hands over a job; the job runs on the commit thread and must touch only what
// the caller does not touch until the job is reported finished (the relay gives it the write
// batch and the store's write side). ready_fd() becomes readable when the job has finished;
// TakeFinished() then consumes that signal, after which the job's effects are visible to the
// caller (the completion is a release/acquire pair) and Start() may be called again.
//
// Thread-safety: every method is for the one owning thread (the relay's network thread).
// Errors: the constructor throws std::system_error if no eventfd or thread can be created.
#ifndef LIAISON_RELAY_COMMIT_THREAD_H_
#define LIAISON_RELAY_COMMIT_THREAD_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace liaison::relay {

class CommitThread {
 public:
  CommitThread();
  // Waits for a running job to finish, then stops the thread.
  ~CommitThread();
  CommitThread(const CommitThread&) = delete;
  CommitThread& operator=(const CommitThread&) = delete;

  // True from Start() until TakeFinished() returned true.
  bool busy() const { return busy_; }
  // Precondition: !busy().
  void Start(std::function<void()> job);
  // A descriptor for poll(): readable once the running job has finished.
  int ready_fd() const { return event_fd_; }
  // If the job has finished: consumes the signal, clears busy() and returns true. Never blocks.
  bool TakeFinished();
  // Blocks until the running job (if any) has finished, then as TakeFinished().
  void WaitFinished();

 private:
  void Loop();

  int event_fd_ = -1;
  bool busy_ = false;  // owner thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  std::function<void()> job_;  // guarded by mutex_
  bool done_ = false;          // guarded by mutex_: job_ has finished
  bool stopping_ = false;      // guarded by mutex_
  std::thread thread_;
};

}  // namespace liaison::relay

#endif  // LIAISON_RELAY_COMMIT_THREAD_H_

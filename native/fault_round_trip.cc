#include "fault_round_trip.h"

#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <system_error>
#include <thread>

#include "uffd_probe.h"

namespace daxfs {
namespace {

constexpr uint64_t kPage = 4096;

uint64_t Nanos(std::chrono::steady_clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

// One load per page of [area, area + pages * kPage).
RoundTripResult Touch(const uint8_t* area, uint64_t pages) {
  auto t0 = std::chrono::steady_clock::now();
  const volatile uint8_t* p = area;
  unsigned sum = 0;
  for (uint64_t i = 0; i < pages; i++) sum += p[i * kPage];
  (void)sum;
  RoundTripResult r;
  r.faults = pages;
  r.ns = Nanos(std::chrono::steady_clock::now() - t0);
  return r;
}

int FailedCall(const char** failed, const char* call, int err) {
  *failed = call;
  return err;
}

// ------------------------------------------------------------ userfaultfd

int UffdRoundTrip(const RegionCore& core, uint64_t offset, uint64_t pages, bool zero_page,
                  RoundTripResult* result, const char** failed) {
  uint64_t length = pages * kPage;
  int uffd = OpenUserfaultfd();
  if (uffd < 0) return FailedCall(failed, "userfaultfd", errno);
  struct uffdio_api api = {};
  api.api = UFFD_API;
  if (ioctl(uffd, UFFDIO_API, &api) != 0) {
    int err = errno;
    close(uffd);
    return FailedCall(failed, "UFFDIO_API", err);
  }
  void* mapped = mmap(nullptr, length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) {
    int err = errno;
    close(uffd);
    return FailedCall(failed, "mmap", err);
  }
  auto* area = static_cast<uint8_t*>(mapped);
  auto base = reinterpret_cast<uintptr_t>(area);
  struct uffdio_register reg = {};
  reg.range.start = base;
  reg.range.len = length;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  int stop = eventfd(0, EFD_CLOEXEC);
  if (stop < 0 || ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
    int err = errno;
    if (stop >= 0) close(stop);
    munmap(area, length);
    close(uffd);
    return FailedCall(failed, stop < 0 ? "eventfd" : "UFFDIO_REGISTER", err);
  }
  std::atomic<int> handler_err{0};
  // The handler thread: answers each fault until told to stop.
  auto serve = [&] {
    for (;;) {
      struct pollfd fds[2] = {{uffd, POLLIN, 0}, {stop, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        handler_err = errno;
        // nobody answers any more: faults on the range become plain ones
        ioctl(uffd, UFFDIO_UNREGISTER, &reg.range);
        ioctl(uffd, UFFDIO_WAKE, &reg.range);
        return;
      }
      if (fds[1].revents != 0) return;
      struct uffd_msg msg;
      if (read(uffd, &msg, sizeof(msg)) != static_cast<ssize_t>(sizeof(msg))) continue;
      if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
      uintptr_t page = msg.arg.pagefault.address & ~(kPage - 1);
      bool zero_woken = zero_page;  // UFFDIO_ZEROPAGE wakes the faulting thread when it succeeds
      if (zero_page) {
        struct uffdio_zeropage z = {};
        z.range.start = page;
        z.range.len = kPage;
        if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) != 0) {
          // EEXIST: mapped meanwhile; the kernel woke nobody, so wake below
          if (errno != EEXIST) handler_err = errno;
          zero_woken = false;
        }
      } else {
        // the backing's page over the faulting one, then the faulting thread retries
        void* at = mmap(reinterpret_cast<void*>(page), kPage, PROT_READ, MAP_SHARED | MAP_FIXED, core.fd,
                        static_cast<off_t>(offset + (page - base)));
        if (at == MAP_FAILED) handler_err = errno;
      }
      if (handler_err != 0) {
        // The faulting thread must not wait forever: the range stops being
        // registered, and its retry is a plain anonymous fault.
        ioctl(uffd, UFFDIO_UNREGISTER, &reg.range);
      }
      struct uffdio_range wake = {page, kPage};
      if (handler_err != 0) wake = reg.range;
      if (!zero_woken || handler_err != 0) ioctl(uffd, UFFDIO_WAKE, &wake);
      if (handler_err != 0) return;
    }
  };
  std::thread handler;
  try {
    handler = std::thread(serve);
  } catch (const std::system_error& e) {
    close(stop);
    munmap(area, length);
    close(uffd);
    return FailedCall(failed, "pthread_create", e.code().value());
  }
  RoundTripResult r = Touch(area, pages);
  uint64_t one = 1;
  (void)!write(stop, &one, sizeof(one));
  handler.join();
  munmap(area, length);
  close(stop);
  close(uffd);
  if (handler_err != 0) return FailedCall(failed, zero_page ? "UFFDIO_ZEROPAGE" : "mmap", handler_err);
  *result = r;
  return 0;
}

// ------------------------------------------------------------ signal handler

// The measurement in progress (one at a time: the handler reads these).
std::mutex signal_measure;
std::atomic<uintptr_t> signal_base{0};
uint64_t signal_length = 0;
int signal_fd = -1;
uint64_t signal_offset = 0;
std::atomic<int> signal_err{0};
struct sigaction signal_previous;

void OnSegv(int sig, siginfo_t* info, void* context) {
  auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  uintptr_t base = signal_base.load(std::memory_order_acquire);
  if (base != 0 && addr >= base && addr < base + signal_length) {
    uintptr_t page = addr & ~(kPage - 1);
    void* at = mmap(reinterpret_cast<void*>(page), kPage, PROT_READ, MAP_SHARED | MAP_FIXED, signal_fd,
                    static_cast<off_t>(signal_offset + (page - base)));
    if (at != MAP_FAILED) return;  // the load is retried on the mapped page
    signal_err = errno;
    // an inaccessible page that stays so would fault forever: make it readable
    mmap(reinterpret_cast<void*>(page), kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    return;
  }
  // not ours: whoever handled SIGSEGV before us
  if (signal_previous.sa_flags & SA_SIGINFO) {
    if (signal_previous.sa_sigaction != nullptr) return signal_previous.sa_sigaction(sig, info, context);
  } else if (signal_previous.sa_handler != SIG_DFL && signal_previous.sa_handler != SIG_IGN) {
    return signal_previous.sa_handler(sig);
  }
  // the default action: die of the fault, as without us
  signal(sig, SIG_DFL);
}

int SignalRoundTrip(const RegionCore& core, uint64_t offset, uint64_t pages, RoundTripResult* result,
                    const char** failed) {
  std::lock_guard<std::mutex> lock(signal_measure);
  uint64_t length = pages * kPage;
  void* mapped = mmap(nullptr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) return FailedCall(failed, "mmap", errno);
  auto* area = static_cast<uint8_t*>(mapped);
  signal_length = length;
  signal_fd = core.fd;
  signal_offset = offset;
  signal_err = 0;
  struct sigaction ours = {};
  ours.sa_sigaction = OnSegv;
  ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&ours.sa_mask);
  if (sigaction(SIGSEGV, &ours, &signal_previous) != 0) {
    int err = errno;
    munmap(area, length);
    return FailedCall(failed, "sigaction", err);
  }
  signal_base.store(reinterpret_cast<uintptr_t>(area), std::memory_order_release);
  RoundTripResult r = Touch(area, pages);
  signal_base.store(0, std::memory_order_release);
  sigaction(SIGSEGV, &signal_previous, nullptr);
  munmap(area, length);
  if (signal_err != 0) return FailedCall(failed, "mmap", signal_err);
  *result = r;
  return 0;
}

}  // namespace

int MeasureFaultRoundTrip(const RegionCore& core, uint64_t offset, uint64_t pages, FaultMechanism how,
                          RoundTripResult* result, const char** failed) {
  *failed = nullptr;
  if (pages == 0) {
    *result = RoundTripResult{};
    return 0;
  }
  switch (how) {
    case FaultMechanism::kUffdMap:
      return UffdRoundTrip(core, offset, pages, false, result, failed);
    case FaultMechanism::kUffdZeroPage:
      return UffdRoundTrip(core, offset, pages, true, result, failed);
    case FaultMechanism::kSignalMap:
      return SignalRoundTrip(core, offset, pages, result, failed);
  }
  return FailedCall(failed, "mechanism", EINVAL);
}

}  // namespace daxfs

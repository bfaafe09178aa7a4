#include "uffd_service.h"

#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <thread>
#include <vector>

#include "fault_service.h"
#include "uffd_probe.h"
#include "vm.h"

namespace daxfs {
namespace {

int service_fd = -1;
int release_fd = -1;  // an eventfd: a hold ended, waiting faults may go
int start_err = 0;

void Wake(uintptr_t page, size_t length) {
  struct uffdio_range range = {page, length};
  ioctl(service_fd, UFFDIO_WAKE, &range);
}

// One fault: served (true), or to try again later (false: the file is held
// by a thread changing its layout — waiting here would hold up every other
// fault behind it, the holder's own among them).
bool Handle(uintptr_t address, bool write) {
  size_t page_size = PageSize();
  uintptr_t page = address & ~(uintptr_t{page_size} - 1);
  int err = 0;
  // Not served, the page is made inaccessible (ServeFault): the retry then
  // fails as without this service. An address no mapping holds any more is
  // left alone — it may be another mapping's by now.
  if (ServeFault(address, write, true, &err, true) == ServeResult::kWait) return false;
  Wake(page, page_size);
  return true;
}

void Run() {
  struct Pending {
    uintptr_t address;
    bool write;
  };
  std::vector<Pending> pending;
  for (;;) {
    struct pollfd fds[2] = {{service_fd, POLLIN, 0}, {release_fd, POLLIN, 0}};
    // Waiting faults are retried when a hold ends, and every millisecond.
    poll(fds, release_fd < 0 ? 1 : 2, pending.empty() ? -1 : 1);
    if (release_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
      uint64_t ignored;
      (void)!read(release_fd, &ignored, sizeof(ignored));
    }
    for (size_t i = 0; i < pending.size();) {
      if (Handle(pending[i].address, pending[i].write)) {
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
        AddWaitingFault(-1);
      } else {
        i++;
      }
    }
    for (;;) {
      struct uffd_msg msg;
      ssize_t n = read(service_fd, &msg, sizeof(msg));
      if (n != static_cast<ssize_t>(sizeof(msg))) break;  // EAGAIN: nothing more now
      if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
      uintptr_t address = static_cast<uintptr_t>(msg.arg.pagefault.address);
      bool write = (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
      if (!Handle(address, write)) {
        pending.push_back({address, write});
        AddWaitingFault(1);
      }
    }
  }
}

void Start() {
  const UffdProbe& probe = ProbeUserfaultfd();
  // Only the full form reports faults taken in system calls: the user-mode
  // form would add nothing to the SIGSEGV handler but a thread hop.
  if (!probe.syscall_full.available && !probe.device.available) {
    start_err = probe.syscall_full.err != 0 ? probe.syscall_full.err : EPERM;
    return;
  }
  int fd = OpenUserfaultfd();
  if (fd < 0) {
    start_err = errno;
    return;
  }
  struct uffdio_api api = {};
  api.api = UFFD_API;
  if (ioctl(fd, UFFDIO_API, &api) != 0) {
    start_err = errno;
    close(fd);
    return;
  }
  release_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  service_fd = fd;
  try {
    std::thread(Run).detach();
  } catch (...) {
    service_fd = -1;
    start_err = EAGAIN;
    close(fd);
  }
}

}  // namespace

void HoldReleased() {
  // Only when a fault waits: a wake-up per layout change would cost a
  // system call and a context switch every time.
  if (release_fd < 0 || !FaultsWaiting()) return;
  uint64_t one = 1;
  (void)!write(release_fd, &one, sizeof(one));
}

bool StartUffdService() {
  // A function-local static: thread-safe once, as in fault_guard.cc.
  static const bool started = (Start(), true);
  (void)started;
  if (service_fd < 0) errno = start_err;
  return service_fd >= 0;
}

int ShowMissing(void* addr, size_t length) {
  // Inaccessible first, registered, then opened: no thread ever finds
  // readable anonymous memory there that is not registered — its loads
  // would see zeros, its stores would be lost.
  int err = MakeInaccessible(addr, length);
  if (err != 0) return err;
  struct uffdio_register reg = {};
  reg.range.start = reinterpret_cast<uintptr_t>(addr);
  reg.range.len = length;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  // Refused, the range stays inaccessible: the SIGSEGV handler serves it
  // (system calls into it get EFAULT), which is still a page showing nothing.
  if (service_fd >= 0 && ioctl(service_fd, UFFDIO_REGISTER, &reg) == 0) mprotect(addr, length, PROT_READ | PROT_WRITE);
  return 0;
}

}  // namespace daxfs

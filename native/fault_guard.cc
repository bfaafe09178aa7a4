#include "fault_guard.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>

#include "fault_service.h"
#include "fault_sites.h"

namespace daxfs {
namespace {

// One armed guard, on the stack of RunGuarded.
struct Frame {
  sigjmp_buf env;
  GuardRange a;
  GuardRange b;
  Frame* prev = nullptr;  // the guard this one is nested in
  // Written by the handler, read after the jump.
  volatile uintptr_t address = 0;
  volatile int code = 0;
};

// The innermost armed guard of this thread; null when none is armed. It is
// the armed flag: volatile, because only the signal handler reads it between
// the stores that arm and disarm it, and a plain variable's stores may be
// dropped by the optimiser. Initial-exec: the handler reads it, and TLS of a
// dlopen'd library in the default model may be allocated on first access,
// with malloc, which a signal handler must not call. (Eight bytes of the
// static TLS surplus the loader keeps for such libraries.)
__attribute__((tls_model("initial-exec"))) thread_local Frame* volatile armed = nullptr;

// Set while this thread writes the line of a fatal fault: a second fault
// meanwhile (the structures read are not locked) goes straight to the end.
__attribute__((tls_model("initial-exec"))) thread_local volatile sig_atomic_t reporting = 0;

struct sigaction previous;       // the SIGBUS action before ours
struct sigaction previous_segv;  // the SIGSEGV action before ours

// The default action: the process dies by the signal, as without us.
void Die(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
  // Not reached for a signal that kills; a fault returning here re-executes
  // the access, which then meets the default action.
}

// A signal that is none of ours: whatever was installed before decides.
void Chain(const struct sigaction& before, int sig, siginfo_t* info, void* context) {
  if (before.sa_flags & SA_SIGINFO) {
    if (before.sa_sigaction != nullptr) {
      before.sa_sigaction(sig, info, context);
      return;
    }
  } else if (before.sa_handler == SIG_IGN) {
    // Ignored when sent; a fault cannot be ignored (the kernel would kill).
    if (info != nullptr && info->si_code > 0) Die(sig);
    return;
  } else if (before.sa_handler != SIG_DFL) {
    before.sa_handler(sig);
    return;
  }
  Die(sig);
}

void OnSigbus(int sig, siginfo_t* info, void* context) {
  int saved_errno = errno;
  // si_code > 0: raised by the kernel for an access, si_addr is the address.
  // A signal sent by kill() has no address: it is never ours.
  if (reporting) Die(sig);
  if (info != nullptr && info->si_code > 0) {
    auto at = reinterpret_cast<uintptr_t>(info->si_addr);
    for (Frame* f = armed; f != nullptr; f = f->prev) {
      if (!f->a.Contains(at) && !f->b.Contains(at)) continue;
      f->address = at;
      f->code = info->si_code;
      armed = f->prev;
      // The mask is not restored (sigsetjmp(…, 0)): SA_NODEFER left SIGBUS
      // unblocked, and the handler blocks nothing else.
      siglongjmp(f->env, 1);
    }
    // A plain access to a region or mapping: nothing can report it but the
    // process's end, as in the kernel; one line says what was hit first.
    reporting = 1;
    if (ReportFatalFault(at, info->si_code)) Die(sig);
    reporting = 0;
  }
  errno = saved_errno;
  Chain(previous, sig, info, context);
}

// Whether the faulting access was a store (x86-64: the page-fault error
// code's write bit); *known is false where the CPU does not say (reported,
// and first served, as a load).
bool WasStore(void* context, bool* known) {
#if defined(__x86_64__)
  *known = context != nullptr;
  if (context == nullptr) return false;
  return (static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
  (void)context;
  *known = false;
  return false;
#endif
}

// A load or store through a mapping's buffer on a page the mapping does not
// give that access: the fault service serves it (fault_service.h) and the
// access runs again. What it cannot serve ends the process, with one line
// first naming the mapping and what to do: SIGBUS for a page wholly past
// the end of the file (as the kernel raises) or with no block left to fill
// a hole, SIGSEGV for a store into a read-only mapping. Everything else
// (WebAssembly's bounds traps, any other fault) goes to the handler
// installed before.
void OnSigsegv(int sig, siginfo_t* info, void* context) {
  int saved_errno = errno;
  if (reporting) Die(sig);
  if (info != nullptr && info->si_code > 0) {
    auto at = reinterpret_cast<uintptr_t>(info->si_addr);
    bool known = false;
    bool store = WasStore(context, &known);
    int err = 0;
    ServeResult served = ServeFaultWaiting(at, store, known, &err);
    if (served == ServeResult::kServed) {
      errno = saved_errno;
      return;  // the access runs again, and finds the page
    }
    reporting = 1;
    if (served == ServeResult::kNoReserve || served == ServeResult::kNoZeroVma || served == ServeResult::kFailed) {
      ReportUnserved(at, store, served, err);
      Die(SIGBUS);
    }
    switch (ReportAccessFault(at, store, served == ServeResult::kBadAccess || served == ServeResult::kPastEnd)) {
      case AccessFault::kBadAccess: Die(sig); break;
      case AccessFault::kPastEnd: Die(SIGBUS); Die(sig); break;  // SIGBUS kills; the second never runs
      case AccessFault::kNotOurs: break;
    }
    reporting = 0;
  }
  errno = saved_errno;
  Chain(previous_segv, sig, info, context);
}

void Install() {
  sigaction(SIGBUS, nullptr, &previous);
  struct sigaction ours {};
  ours.sa_sigaction = OnSigbus;
  ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&ours.sa_mask);
  sigaction(SIGBUS, &ours, nullptr);
  sigaction(SIGSEGV, nullptr, &previous_segv);
  struct sigaction segv {};
  segv.sa_sigaction = OnSigsegv;
  segv.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&segv.sa_mask);
  sigaction(SIGSEGV, &segv, nullptr);
}

}  // namespace

void InstallFaultGuard() {
  // A function-local static: thread-safe once (std::call_once would tie the
  // binary to a newer glibc symbol for pthread_once).
  static const bool installed = (Install(), true);
  (void)installed;
}

bool RunGuarded(GuardRange a, GuardRange b, GuardedBody body, void* context, BusFault* fault) {
  Frame frame;
  frame.a = a;
  frame.b = b;
  frame.prev = armed;
  // Not saving the signal mask spares a system call per guard.
  if (sigsetjmp(frame.env, 0) != 0) {
    // The handler disarmed this frame before it jumped.
    fault->address = frame.address;
    fault->code = frame.code;
    return false;
  }
  armed = &frame;
  try {
    body(context);
  } catch (...) {
    armed = frame.prev;  // an allocation failure of the tracer, say
    throw;
  }
  armed = frame.prev;
  return true;
}

int LoadPastEndOfFile(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  int err = p == MAP_FAILED ? errno : 0;
  close(fd);
  if (err != 0) return err;
  (void)*static_cast<volatile uint8_t*>(p);
  munmap(p, 4096);
  return 0;
}

}  // namespace daxfs

// The userfaultfd side of the fault service (fault_service.h): where this
// process may have userfaultfd in full form, the pages a published mapping
// shows nothing on are anonymous memory registered for missing faults
// rather than inaccessible memory. The kernel then reports a first access
// to one to a service thread instead of raising SIGSEGV — also when the
// access is a system call's (read() into the buffer), which a signal
// handler never sees: the call would fail with EFAULT. The thread serves
// the fault with the same rules and tables (ServeFault) and wakes the
// faulting thread. Protection faults (a store on zeros or on a read-only
// block) stay the SIGSEGV handler's: userfaultfd's write-protect does not
// cover fs-dax files or device-dax, and this path must not depend on it.
//
// An access the service cannot serve (past EOF, a store into a read-only
// mapping, no block left) makes the page inaccessible and wakes the thread:
// its retry then raises SIGSEGV in user mode — the handler writes the line
// and ends the process as usual — or fails the system call with EFAULT.
#pragma once

#include <cstddef>

namespace daxfs {

// Starts the service on first use: a userfaultfd in full form and the
// thread. False (errno set) when this process may not have one.
bool StartUffdService();

// Makes [addr, addr + length) show nothing: anonymous, registered for
// missing faults (the service must be started) — or, should the kernel
// refuse the registration, inaccessible, as without the service. Returns 0,
// or the errno of the mmap that failed to replace what was there.
int ShowMissing(void* addr, size_t length);

}  // namespace daxfs

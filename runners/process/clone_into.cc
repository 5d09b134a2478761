#include "runners/process/clone_into.h"

#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "agent/common/sanitizers.h"

// Not under the sanitizers: TSan cannot follow a raw clone, and ASan takes
// the child's stack of our own for a stack overflow (and a report from a
// child that shares the agent's memory can deadlock it). Those builds use
// vfork, which both intercept.
#if defined(SYS_clone3) && defined(CLONE_INTO_CGROUP) && !defined(AGENT_TSAN) && \
    !defined(AGENT_ASAN) && (defined(__x86_64__) || defined(__aarch64__))
#define RUNNERD_CLONE_INTO 1
#endif

namespace runners::process {

namespace {

#if defined(RUNNERD_CLONE_INTO)
constexpr bool kBuilt = true;
#else
constexpr bool kBuilt = false;
#endif

bool refused = false;

#if defined(RUNNERD_CLONE_INTO)
// What the child runs on until it execs: it only makes system calls, so a
// small stack does; a guard page below it turns an overflow into a fault.
constexpr size_t kStackSize = 64 * 1024;
constexpr size_t kGuard = 4096;
// One per spawning thread, unmapped when the thread ends.
struct ChildStack {
  char* base = nullptr;
  ~ChildStack() {
    if (base != nullptr) munmap(base, kStackSize + kGuard);
  }
};
thread_local ChildStack child_stack;

char* stack_top() {
  if (child_stack.base == nullptr) {
    void* p = mmap(nullptr, kStackSize + kGuard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    mprotect(p, kGuard, PROT_NONE);
    child_stack.base = static_cast<char*>(p);
  }
  return child_stack.base + kGuard + kStackSize;
}
#endif

#if defined(RUNNERD_CLONE_INTO) && defined(__x86_64__)
// The parent returns from the system call with the pid in rax. The child
// returns with 0 on the new stack: it calls fn(arg) there and, should fn
// ever return, faults (ud2) rather than run on in the parent's frames.
long raw_clone3(struct clone_args* args, size_t size, void (*fn)(void*), void* arg) {
  long ret;
  register void (*r12)(void*) asm("r12") = fn;
  register void* r13 asm("r13") = arg;
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "ud2\n"
      "1:\n\t"
      : "=a"(ret)
      : "a"(static_cast<long>(SYS_clone3)), "D"(args), "S"(size), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return ret;
}
#elif defined(RUNNERD_CLONE_INTO) && defined(__aarch64__)
long raw_clone3(struct clone_args* args, size_t size, void (*fn)(void*), void* arg) {
  register long x8 asm("x8") = SYS_clone3;
  register long x0 asm("x0") = reinterpret_cast<long>(args);
  register long x1 asm("x1") = static_cast<long>(size);
  register void (*x19)(void*) asm("x19") = fn;
  register void* x20 asm("x20") = arg;
  asm volatile(
      "svc #0\n\t"
      "cbnz x0, 1f\n\t"
      "mov x29, #0\n\t"
      "mov x0, x20\n\t"
      "blr x19\n\t"
      "brk #0\n"
      "1:\n\t"
      : "+r"(x0)
      : "r"(x8), "r"(x1), "r"(x19), "r"(x20)
      : "x30", "memory");
  return x0;
}
#endif

}  // namespace

bool clone_into_available() { return kBuilt && !refused; }

void remember_refusal(int err) {
  if (err == ENOSYS || err == E2BIG || err == EINVAL || err == EBADF || err == EOPNOTSUPP) {
    refused = true;
  }
}

pid_t clone_into_cgroup(int cgroup_dir_fd, void (*fn)(void*), void* arg, bool share_files) {
#if defined(RUNNERD_CLONE_INTO)
  char* top = stack_top();
  if (top == nullptr) return -1;
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP | (share_files ? CLONE_FILES : 0);
  args.exit_signal = SIGCHLD;
  args.stack = reinterpret_cast<uint64_t>(top - kStackSize);
  args.stack_size = kStackSize;
  args.cgroup = static_cast<uint64_t>(cgroup_dir_fd);
  long r = raw_clone3(&args, sizeof args, fn, arg);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return static_cast<pid_t>(r);
#else
  (void)cgroup_dir_fd;
  (void)fn;
  (void)arg;
  (void)share_files;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace runners::process

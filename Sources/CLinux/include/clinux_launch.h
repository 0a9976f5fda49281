#ifndef CLINUX_LAUNCH_H
#define CLINUX_LAUNCH_H
// The steps of starting a program that can fail, shared by every launcher (run, record,
// verify, watch) and by Swift (Processes' `Launcher.Step`). A child reports a failed step
// and its errno through the error pipe as {step, errno}.

/// A step of a launch that failed, or CLINUX_LAUNCH_OK.
enum clinux_launch_step {
  CLINUX_LAUNCH_OK = 0,
  CLINUX_LAUNCH_STEP_PIPE = 1,          ///< pipe2 in the launcher
  CLINUX_LAUNCH_STEP_FORK = 2,          ///< fork in the launcher (or the child died before it reported)
  CLINUX_LAUNCH_STEP_TRACE = 3,         ///< PTRACE_SEIZE or PTRACE_INTERRUPT of the child
  CLINUX_LAUNCH_STEP_NO_NEW_PRIVS = 4,  ///< prctl(PR_SET_NO_NEW_PRIVS) in the child
  CLINUX_LAUNCH_STEP_FILTER = 5,        ///< loading a seccomp filter in the child
  CLINUX_LAUNCH_STEP_EXEC = 6,          ///< execve in the child
  CLINUX_LAUNCH_STEP_LISTENER = 7,      ///< taking the filter's listener from the child (watch)
};

#endif

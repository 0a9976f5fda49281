import Seccomp

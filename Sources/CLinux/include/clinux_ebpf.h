#ifndef CLINUX_EBPF_H
#define CLINUX_EBPF_H
// eBPF for recording: bpf(2) and perf_event_open(2) wrappers (see ebpf.c).
#endif

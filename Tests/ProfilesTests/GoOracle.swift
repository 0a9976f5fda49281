import Foundation
import Profiles
import Seccomp
import Syscalls
import Testing
import TestSupport

/// Go itself as the oracle for how Docker and runc read a profile: a small Go program
/// (below) decodes each file with encoding/json into types shaped like moby's and the
/// runtime-spec's, applies moby's checks when it loads a profile and runc's when it
/// converts one, and prints what it read. syscage must refuse every file Go refuses,
/// read every file both accept the same way, and refuse more only for the named reasons.
enum GoOracle {
  static let goPath: String? = ["/usr/bin/go", "/usr/lib/go/bin/go"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  static var shouldRun: Bool { isCI || goPath != nil }
  static let skipReason = "needs golang-go (Go 1.19 or later: apt-get install golang-go); required under CI=true"

  enum Answer: Equatable {
    case accept(String)
    case disabled
    case reject(String)
  }

  struct BuildError: Error, CustomStringConvertible {
    var description: String
  }

  /// Builds the program in `dir` (its own GOCACHE and GOPATH, no module lookups).
  static func build(in dir: URL) throws -> String {
    guard let go = goPath else { throw BuildError(description: skipReason) }
    try program.write(to: dir.appendingPathComponent("main.go"), atomically: true, encoding: .utf8)
    let binary = dir.appendingPathComponent("oracle").path
    let env = [
      "GOCACHE=\(dir.path)/cache", "GOPATH=\(dir.path)/gopath", "GO111MODULE=off", "GOFLAGS=", "CGO_ENABLED=0",
      "HOME=\(dir.path)", "PATH=/usr/bin:/bin",
    ]
    let r = run("/usr/bin/env", env + [go, "build", "-o", binary, dir.appendingPathComponent("main.go").path], timeout: 300)
    guard r.status == 0 else { throw BuildError(description: "go build failed (\(r.status)): \(r.stderr)") }
    return binary
  }

  /// Runs the built program once over every file.
  static func answers(_ binary: String, files: [String]) throws -> [Answer] {
    let list = URL(fileURLWithPath: binary + ".files")
    try (files.joined(separator: "\n") + "\n").write(to: list, atomically: true, encoding: .utf8)
    let r = run(binary, [list.path], timeout: 300)
    guard r.status == 0 else { throw BuildError(description: "the Go oracle failed (\(r.status)): \(r.stderr)") }
    let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
    guard lines.count == files.count else {
      throw BuildError(description: "the Go oracle answered \(lines.count) of \(files.count) files")
    }
    return try lines.map { line in
      let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
      let payload = parts.count > 1 ? String(parts[1]) : ""
      switch parts[0] {
      case "accept": return .accept(payload)
      case "disabled": return .disabled
      case "reject": return .reject(payload)
      default: throw BuildError(description: "the Go oracle could not read a file: \(line)")
      }
    }
  }

  /// The profile in the form the Go program prints (strings as UTF-8 hex).
  static func canonical(_ p: Profile) -> String {
    func hex(_ s: String) -> String {
      let digits = Array("0123456789abcdef")
      var out = ""
      out.reserveCapacity(s.utf8.count * 2)
      for b in s.utf8 {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
      }
      return out
    }
    func list(_ items: [String]) -> String { "[" + items.map(hex).joined(separator: ",") + "]" }
    func number(_ n: UInt32?) -> String { n.map { String($0) } ?? "-" }
    func filter(_ f: EntryFilter?) -> String {
      let mk = f?.minKernel.map { "\($0.major).\($0.minor)" } ?? "-"
      return "{caps=\(list(f?.caps ?? []));arches=\(list(f?.arches ?? []));mk=\(mk)}"
    }
    var out = "da=\(hex(p.defaultAction?.rawValue ?? ""));der=\(number(p.defaultErrnoRet));"
    out += "arch=\(list((p.architectures ?? []).map(\.profileName)));am=["
    out += (p.archMap ?? []).map { "\(hex($0.architecture.profileName)):\(list(($0.subArchitectures ?? []).map(\.profileName)))" }
      .joined(separator: ",")
    out += "];fl=\(p.flags.map { list($0.map(\.rawValue)) } ?? "-");lp=\(hex(p.listenerPath ?? ""));lm=\(hex(p.listenerMetadata ?? ""));sc=["
    out += (p.syscalls ?? []).map { e in
      let args = (e.args ?? []).map { "\($0.index):\($0.value):\($0.valueTwo ?? 0):\(hex($0.op.rawValue))" }.joined(separator: ",")
      return "{n=\(list(e.names));a=\(hex(e.action.rawValue));er=\(number(e.errnoRet));args=[\(args)];c=\(hex(e.comment ?? ""));"
        + "inc=\(filter(e.includes));exc=\(filter(e.excludes))}"
    }.joined(separator: ",")
    return out + "]"
  }

  /// The program. It mirrors moby's and the runtime-spec's types (names, tags,
  /// pointers, embedding) but shares no code with them.
  static let program = #"""
// Reads profile paths, one per line, from the file named by its argument and prints, for each, one line:
// "accept\t<canonical>", "disabled\t" or "reject\t<reason>", as Docker (moby's profile
// types decoded by encoding/json, then moby's checks when it loads a profile) and runc
// (its checks when it converts the result) would take the file on an amd64 host.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The types mirror the shapes moby and the runtime-spec give the JSON (field names,
// tags, pointers, embedding), so encoding/json reads a file as it does for Docker.
type specSeccomp struct {
	DefaultAction    string        `json:"defaultAction"`
	DefaultErrnoRet  *uint         `json:"defaultErrnoRet,omitempty"`
	Architectures    []string      `json:"architectures,omitempty"`
	Flags            []string      `json:"flags,omitempty"`
	ListenerPath     string        `json:"listenerPath,omitempty"`
	ListenerMetadata string        `json:"listenerMetadata,omitempty"`
	Syscalls         []specSyscall `json:"syscalls,omitempty"`
}

type specSyscall struct {
	Names    []string  `json:"names"`
	Action   string    `json:"action"`
	ErrnoRet *uint     `json:"errnoRet,omitempty"`
	Args     []specArg `json:"args,omitempty"`
}

type specArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

type profile struct {
	specSeccomp
	ArchMap  []archEntry `json:"archMap,omitempty"`
	Syscalls []*entry    `json:"syscalls"`
}

type archEntry struct {
	Arch      string   `json:"architecture"`
	SubArches []string `json:"subArchitectures"`
}

type entry struct {
	specSyscall
	Name     string  `json:"name,omitempty"`
	Comment  string  `json:"comment,omitempty"`
	Includes *filter `json:"includes,omitempty"`
	Excludes *filter `json:"excludes,omitempty"`
}

type filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel *kernel  `json:"minKernel,omitempty"`
}

type kernel struct{ major, minor uint64 }

// moby's rule for minKernel: a string, "" for 0.0, else exactly two decimal parts of
// 0...255 that are not both 0.
func (k *kernel) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("minKernel %s: %v", b, err)
	}
	if s == "" {
		return nil
	}
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 2 {
		return fmt.Errorf("minKernel %q: not <kernel>.<major>", s)
	}
	var err error
	if k.major, err = strconv.ParseUint(parts[0], 10, 8); err != nil {
		return fmt.Errorf("minKernel %q: %v", s, err)
	}
	if k.minor, err = strconv.ParseUint(parts[1], 10, 8); err != nil {
		return fmt.Errorf("minKernel %q: %v", s, err)
	}
	if k.major == 0 && k.minor == 0 {
		return fmt.Errorf("minKernel %q: version cannot be 0.0", s)
	}
	return nil
}

var runcActions = set("SCMP_ACT_KILL", "SCMP_ACT_ERRNO", "SCMP_ACT_TRAP", "SCMP_ACT_ALLOW", "SCMP_ACT_TRACE",
	"SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS")
var runcOperators = set("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
	"SCMP_CMP_MASKED_EQ")
var runcArches = set("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
	"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
	"SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64",
	"SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_LOONGARCH64")
var runcFlags = set("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG")

func set(items ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range items {
		m[s] = true
	}
	return m
}

// check applies moby's checks when it loads a profile, then runc's when it converts
// one, taking every entry as applying (some host, capability set and kernel apply it).
func check(p *profile) (disabled bool, err error) {
	if p.DefaultAction == "" && len(p.Syscalls) == 0 {
		return true, nil
	}
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return false, errors.New("moby: both architectures and archMap")
	}
	for i, e := range p.Syscalls {
		if e == nil {
			return false, fmt.Errorf("moby: syscalls[%d] is null (a nil entry)", i)
		}
		if e.Name != "" && len(e.Names) != 0 {
			return false, fmt.Errorf("moby: syscalls[%d] has name and names", i)
		}
	}
	if p.Flags != nil {
		for _, f := range p.Flags {
			if !runcFlags[f] {
				return false, fmt.Errorf("runc: unknown flag %q", f)
			}
		}
	}
	arches := append([]string{}, p.Architectures...)
	for _, a := range p.ArchMap {
		if a.Arch == "SCMP_ARCH_X86_64" {
			arches = append(append(arches, a.Arch), a.SubArches...)
			break
		}
	}
	for _, a := range arches {
		if !runcArches[a] {
			return false, fmt.Errorf("runc: unknown arch %q", a)
		}
	}
	if !runcActions[p.DefaultAction] {
		return false, fmt.Errorf("runc: unknown default action %q", p.DefaultAction)
	}
	for i, e := range p.Syscalls {
		if !runcActions[e.Action] {
			return false, fmt.Errorf("runc: syscalls[%d]: unknown action %q", i, e.Action)
		}
		names := e.Names
		if e.Name != "" {
			names = []string{e.Name}
		}
		for _, n := range names {
			if n == "" {
				return false, fmt.Errorf("runc: syscalls[%d]: empty syscall name", i)
			}
			for _, a := range e.Args {
				if !runcOperators[a.Op] {
					return false, fmt.Errorf("runc: syscalls[%d]: unknown operator %q", i, a.Op)
				}
			}
		}
		sameAsDefault := e.Action == p.DefaultAction && errnoOf(e.ErrnoRet) == errnoOf(p.DefaultErrnoRet)
		if len(names) > 0 && !sameAsDefault {
			for _, a := range e.Args {
				if a.Index > 5 {
					return false, fmt.Errorf("runc: syscalls[%d]: argument index %d", i, a.Index)
				}
			}
		}
	}
	return false, nil
}

// The errno runc gives an ERRNO or TRACE action (libseccomp keeps 16 bits).
func errnoOf(p *uint) int16 {
	if p == nil {
		return 1
	}
	return int16(*p)
}

func hexList(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = fmt.Sprintf("%x", s)
	}
	return "[" + strings.Join(out, ",") + "]"
}

func number(p *uint) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatUint(uint64(*p), 10)
}

func filterText(f *filter) string {
	if f == nil {
		f = &filter{}
	}
	mk := "-"
	if f.MinKernel != nil {
		mk = fmt.Sprintf("%d.%d", f.MinKernel.major, f.MinKernel.minor)
	}
	return fmt.Sprintf("{caps=%s;arches=%s;mk=%s}", hexList(f.Caps), hexList(f.Arches), mk)
}

// canonical writes what the profile says, in a form the Swift test writes too.
func canonical(p *profile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "da=%x;der=%s;arch=%s;am=[", p.DefaultAction, number(p.DefaultErrnoRet), hexList(p.Architectures))
	for i, a := range p.ArchMap {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%x:%s", a.Arch, hexList(a.SubArches))
	}
	flags := "-"
	if p.Flags != nil {
		flags = hexList(p.Flags)
	}
	fmt.Fprintf(&b, "];fl=%s;lp=%x;lm=%x;sc=[", flags, p.ListenerPath, p.ListenerMetadata)
	for i, e := range p.Syscalls {
		if i > 0 {
			b.WriteString(",")
		}
		names := e.Names
		if e.Name != "" {
			names = []string{e.Name}
		}
		fmt.Fprintf(&b, "{n=%s;a=%x;er=%s;args=[", hexList(names), e.Action, number(e.ErrnoRet))
		for j, a := range e.Args {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%d:%d:%d:%x", a.Index, a.Value, a.ValueTwo, a.Op)
		}
		fmt.Fprintf(&b, "];c=%x;inc=%s;exc=%s}", e.Comment, filterText(e.Includes), filterText(e.Excludes))
	}
	b.WriteString("]")
	return b.String()
}

func main() {
	list, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	in := bufio.NewScanner(list)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		body, err := os.ReadFile(in.Text())
		if err != nil {
			fmt.Fprintf(out, "error\t%v\n", err)
			continue
		}
		var p profile
		if err := json.Unmarshal(body, &p); err != nil {
			fmt.Fprintf(out, "reject\tdecode: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		disabled, err := check(&p)
		switch {
		case err != nil:
			fmt.Fprintf(out, "reject\t%s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		case disabled:
			fmt.Fprintf(out, "disabled\t\n")
		default:
			fmt.Fprintf(out, "accept\t%s\n", canonical(&p))
		}
	}
}
"""#
}

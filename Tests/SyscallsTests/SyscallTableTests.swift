import CTestSupport
import Foundation
import SyscallTableGenerator
import Syscalls
import Testing
import TestSupport

@Suite struct SyscallTableTests {
  @Test func regenerationGivesTheCommittedFile() throws {
    let generated = try SyscallTableGenerator.generate(dataDirectory: packageRoot.appendingPathComponent("Data"))
    let committed = try String(
      contentsOf: packageRoot.appendingPathComponent("Sources/Syscalls/GeneratedSyscallTable.swift"), encoding: .utf8)
    #expect(generated == committed, "run `swift run generate-syscall-tables` and commit the result")
  }

  @Test func regenerationGivesTheCommittedEmbeddedProfiles() throws {
    let generated = try SyscallTableGenerator.generateEmbeddedProfiles(dataDirectory: packageRoot.appendingPathComponent("Data"))
    let committed = try String(
      contentsOf: packageRoot.appendingPathComponent("Sources/Profiles/GeneratedEmbeddedProfiles.swift"), encoding: .utf8)
    #expect(generated == committed, "run `swift run generate-syscall-tables` and commit the result")
  }

  @Test func tableHasEverySyscallOfTheCSV() {
    #expect(SyscallTable.allNames.count == 508)
    #expect(SyscallTable.allNames == SyscallTable.allNames.sorted())
  }

  @Test(arguments: [
    (Arch.x86_64, "openat", 257), (.aarch64, "openat", 56), (.x32, "read", 0x4000_0000),
    (.x32, "rt_sigreturn", 0x4000_0000 + 513), (.mips64, "read", 5000), (.mips, "read", 4003),
    (.mips64n32, "read", 6000), (.mipsel, "read", 4003), (.arm, "cacheflush", 0x0f0002),
    (.arm, "set_tls", 0x0f0005), (.x86, "socket", 359), (.x86, "socketcall", 102),
    (.s390x, "read", 3), (.riscv64, "openat", 56), (.ppc64le, "read", 3),
  ] as [(Arch, String, Int32)])
  func numbersCarryEachABIsQuirks(arch: Arch, name: String, number: Int32) {
    #expect(arch.number(of: name) == SyscallNumber(number))
    #expect(arch.name(of: SyscallNumber(number)) == name)
  }

  @Test func absentSyscallsHaveNoNumber() {
    #expect(Arch.x86_64.number(of: "socketcall") == nil)
    #expect(Arch.aarch64.number(of: "open") == nil)
    #expect(Arch.x86.number(of: "nonexistent") == nil)
    #expect(Arch.x86_64.name(of: SyscallNumber(100_000)) == nil)
  }

  @Test func everyNumberResolvesBackToItsName() {
    for arch in Arch.all {
      for (name, number) in SyscallTable.entries(in: arch.abi) {
        #expect(SyscallTable.names(of: number, in: arch.abi).contains(name), "\(arch) \(name)")
        #expect(arch.number(of: name) == number)
      }
    }
  }

  @Test func auditArchValuesMatchTheKernelHeaders() {
    for arch in Arch.all {
      let header = ctest_header_audit_arch(arch.name)
      if header == 0 { continue }  // not in this machine's headers
      #expect(arch.auditArch.rawValue == header, "\(arch)")
    }
    #expect(Arch.x86_64.auditArch.rawValue == 0xc000_003e)
    #expect(Arch.x86.auditArch.rawValue == 0x4000_0003)
    #expect(Arch.loongarch64.auditArch.rawValue == 0xc000_0102)
  }

  @Test func archPropertiesAndSpellings() {
    #expect(Arch.all.count == 23)
    #expect(Set(Arch.all.map(\.abi)).count == SyscallABI.allCases.count)
    #expect(Arch(named: "amd64") == .x86_64)
    #expect(Arch(named: "SCMP_ARCH_AARCH64") == .aarch64)
    #expect(Arch(named: "i386") == .x86)
    #expect(Arch(named: "nope") == nil)
    #expect(Arch(profileName: "SCMP_ARCH_MIPSEL64N32") == .mipsel64n32)
    #expect(Arch.x86.wordBits == 32 && Arch.x32.wordBits == 64 && Arch.s390x.endianness == .big)
    #expect(Arch.mipsel.endianness == .little && Arch.ppc64.endianness == .big)
    #expect(Arch.x86_64.goArch == "amd64" && Arch.aarch64.dockerName == "arm64")
  }

  /// Every x86 ABI number agrees with this machine's kernel headers for the names both know.
  @Test(arguments: [("unistd_64.h", Arch.x86_64), ("unistd_32.h", .x86), ("unistd_x32.h", .x32)])
  func x86NumbersMatchKernelHeaders(header: String, arch: Arch) throws {
    let path = "/usr/include/x86_64-linux-gnu/asm/" + header
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
    var checked = 0
    for line in text.split(separator: "\n") where line.hasPrefix("#define __NR_") {
      let parts = line.split(separator: " ", maxSplits: 2)
      guard parts.count == 3 else { continue }
      let name = String(parts[1].dropFirst("__NR_".count))
      let expr = parts[2].replacingOccurrences(of: "(__X32_SYSCALL_BIT + ", with: "").replacingOccurrences(of: ")", with: "")
      guard let raw = Int32(expr) else { continue }
      let number = header == "unistd_x32.h" ? raw | SyscallNumber.x32Bit : raw
      guard let ours = arch.number(of: name) else { continue }
      #expect(ours.rawValue == number, "\(arch) \(name)")
      checked += 1
    }
    #expect(checked > 300)
  }

  @Test func argumentTypes() {
    #expect(Arch.x86_64.argumentType(of: "socket", index: 0).bits == 32)
    #expect(Arch.x86_64.argumentType(of: "socket", index: 0).isSigned)
    #expect(Arch.x86_64.argumentType(of: "chmod", index: 1).bits == 16)
    #expect(Arch.x86_64.argumentType(of: "mount", index: 3).bits == 64)
    #expect(Arch.x86_64.argumentType(of: "openat", index: 1).bits == 64)  // pointer
    #expect(Arch.x86.argumentType(of: "openat", index: 1).bits == 32)
    #expect(Arch.x86_64.argumentType(of: "personality", index: 0).bits == 32)
    #expect(!Arch.x86_64.argumentType(of: "personality", index: 0).isSigned)
    #expect(Arch.x86_64.argumentType(of: "kill", index: 0).isSigned)
    #expect(Arch.x86_64.argumentType(of: "socketcall", index: 0).bits == 64)  // no signature: the word
    #expect(Arch.x86_64.argumentType(of: "read", index: 5).bits == 64)
    #expect(Arch.x86_64.argumentType(of: "chmod", index: 1).mask == 0xffff)
  }

  @Test func groups() throws {
    let mount = try #require(SyscallGroups.expand("@mount"))
    #expect(mount.contains("mount") && mount.contains("umount2") && !mount.contains("read"))
    let service = try #require(SyscallGroups.expand("@system-service"))
    #expect(service.contains("read") && service.contains("openat") && service.contains("futex"))
    let refused = try #require(SyscallGroups.expand("@docker-default-refused"))
    for name in ["keyctl", "add_key", "mount", "reboot", "clone3", "unshare", "kexec_load"] {
      #expect(refused.contains(name), "\(name)")
    }
    for name in ["read", "openat", "socket", "clone", "personality", "execve"] {
      #expect(!refused.contains(name), "\(name)")
    }
    #expect(SyscallGroups.expand("@nope") == nil)
    #expect(SyscallGroups.names.count == 30)
  }

  @Test func suggestionsFindNearNames() {
    #expect(SyscallTable.suggestions(for: "opnat").first == "openat")
    #expect(SyscallTable.suggestions(for: "exceve").contains("execve"))
  }

  /// A call's ABI from what seccomp sees: the audit value, and x32's bit in the number.
  @Test func archOfASeccompCall() {
    #expect(Arch(auditArch: Arch.x86.auditArch.rawValue, number: 20) == .x86)
    #expect(Arch(auditArch: Arch.x86_64.auditArch.rawValue, number: 39) == .x86_64)
    #expect(Arch(auditArch: Arch.x86_64.auditArch.rawValue, number: 39 | Int64(SyscallNumber.x32Bit)) == .x32)
    #expect(Arch(auditArch: Arch.x86_64.auditArch.rawValue, number: -1) == .x86_64)
    #expect(Arch(auditArch: Arch.aarch64.auditArch.rawValue, number: 172) == .aarch64)
    #expect(Arch(auditArch: 0x1234, number: 0) == nil)
  }
}

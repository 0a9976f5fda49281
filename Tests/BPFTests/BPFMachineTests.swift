import BPF
import Profiles
import Seccomp
import Syscalls
import Testing

/// The classic-BPF machine on its own: the disassembler's layout, the kernel's checks,
/// `struct sock_filter` records.
@Suite struct BPFMachineTests {
  @Test func disassemblyReadsLikeLibseccomps() throws {
    let program: [BPFInstruction] = [
      .load(4), .jump(BPF.jeq, 0xc000_003e, 0, 3), .load(0), .jump(BPF.jge, 0x4000_0000, 1, 0),
      .ret(SeccompAction.allow), .ret(SeccompAction.errno(1)), .jump(5), .and(0xffff),
    ]
    let text = Disassembler.listing(program)
    let lines = text.split(separator: "\n").map(String.init)
    #expect(lines[0] == " line  OP   JT   JF   K")
    #expect(lines[1] == "=================================")
    #expect(lines[2] == " 0000: 0x20 0x00 0x00 0x00000004   ld  $data[4]")
    #expect(lines[3] == " 0001: 0x15 0x00 0x03 0xc000003e   jeq 3221225534 true:0002 false:0005")
    #expect(lines[5] == " 0003: 0x35 0x01 0x00 0x40000000   jge 1073741824 true:0005 false:0004")
    #expect(lines[6] == " 0004: 0x06 0x00 0x00 0x7fff0000   ret ALLOW")
    #expect(lines[7] == " 0005: 0x06 0x00 0x00 0x00050001   ret ERRNO(1)")
    #expect(lines[8] == " 0006: 0x05 0x00 0x00 0x00000005   jmp 0012")
    #expect(lines[9].hasSuffix("and 0x0000ffff"))
  }

  @Test func validatorRefusesWhatTheKernelRefuses() {
    #expect(throws: BPFValidationError.self) { try Interpreter.validate([]) }
    #expect(throws: BPFValidationError.self) { try Interpreter.validate([.load(1), .ret(0)]) }  // unaligned
    #expect(throws: BPFValidationError.self) { try Interpreter.validate([.load(64), .ret(0)]) }  // beyond seccomp_data
    #expect(throws: BPFValidationError.self) { try Interpreter.validate([.load(0)]) }  // no ret
    #expect(throws: BPFValidationError.self) { try Interpreter.validate([.jump(BPF.jeq, 0, 5, 0), .ret(0)]) }
    #expect(throws: BPFValidationError.self) { try Interpreter.validate([BPFInstruction(code: BPF.ld | BPF.mem, k: 0), .ret(0)]) }
    #expect(throws: BPFValidationError.self) { try Interpreter.validate([BPFInstruction(code: BPF.alu | BPF.div | BPF.k, k: 0), .ret(0)]) }
    #expect(throws: BPFValidationError.self) { try Interpreter.validate([BPFInstruction(code: BPF.ld | BPF.h | BPF.abs, k: 0), .ret(0)]) }
    #expect(throws: Never.self) {
      try Interpreter.validate([BPFInstruction(code: BPF.st, k: 3), BPFInstruction(code: BPF.ld | BPF.mem, k: 3), .ret(0)])
    }
  }

  @Test func rawRecordsRoundTrip() throws {
    let context = ExpansionContext(
      native: .x86_64, capabilities: ExpansionContext.dockerDefaultCapabilities, kernel: KernelVersion(major: 6, minor: 18))
    let program = try Compiler.compile(Policy(profile: Profile.dockerDefault, options: PolicyOptions(context: context)))
    #expect([BPFInstruction](rawBytes: program.rawBytes) == program)
    #expect(program.rawBytes.count == program.count * 8)
    #expect([BPFInstruction](rawBytes: [1, 2, 3]) == nil)
  }
}

import Seccomp
import Syscalls

/// How `diff --subset` says a proof: the counterexample's call with its constants named
/// (`socket(AF_VSOCK)`), and the lines and JSON fields it prints.
public struct SubsetProofReport: Sendable {
  public var proof: SubsetProof
  public var base: String
  public var candidate: String
  /// The runtime whose layer both were loaded with (nil: as given).
  public var runtime: RuntimeLayer?

  public init(_ proof: SubsetProof, base: String, candidate: String, runtime: RuntimeLayer?) {
    self.proof = proof
    self.base = base
    self.candidate = candidate
    self.runtime = runtime
  }

  /// The call of a counterexample as a program would make it: `socket(AF_VSOCK, 0, 0)` for
  /// socket and socketpair's family, else the syscall with the arguments the region fixes.
  public static func call(_ c: SubsetProof.Counterexample) -> String {
    guard c.arch != nil else { return "a call from an unlisted ABI" }
    if c.number == 0xffff_ffff { return "nr -1" }
    if c.name == "socket" || c.name == "socketpair", c.args[0] < UInt64(ConversionTables.addressFamilies.count) {
      let family = ConversionTables.addressFamilies[Int(c.args[0])]
      return "\(c.name)(\(family))"
    }
    if c.region == "any arguments" { return c.name }
    return "\(c.name)(\(c.region))"
  }

  /// The lines `diff --subset` prints on standard output.
  public var lines: [String] {
    let loaded = runtime.map { " as \($0) loads them" } ?? ""
    if proof.proved {
      return ["proved: \(candidate) is equally or more restrictive than \(base) on every ABI, syscall and argument region\(loaded) (\(proof.comparedRegions) regions)"]
    }
    var out: [String] = []
    if let c = proof.counterexample {
      let abi = c.arch.map { "\($0): " } ?? ""
      out.append("not a subset: \(abi)\(SubsetProofReport.call(c)): \(candidate) gives \(c.candidate), \(base) gives \(c.base)")
      if c.arch != nil {
        out.append("  call: nr \(c.number), arguments \(c.args.map { ArgumentValue($0).description }.joined(separator: ", "))")
      }
      for o in proof.sameSyscall {
        out.append("  also: \(SubsetProofReport.call(o)): \(candidate) gives \(o.candidate), \(base) gives \(o.base)")
      }
      out.append("  \(proof.differingRegions) of \(proof.comparedRegions) regions\(loaded) are less restrictive in \(candidate)")
    }
    for u in proof.unproven { out.append("cannot prove: \(u): too complex to compare exactly") }
    return out
  }

  /// The JSON object of `diff --subset --json`.
  public var json: [String: Any] {
    var obj: [String: Any] = [
      "proved": proof.proved, "base": base, "candidate": candidate, "runtime": runtime?.rawValue ?? "none",
      "differingRegions": proof.differingRegions, "comparedRegions": proof.comparedRegions, "unproven": proof.unproven,
    ]
    if let c = proof.counterexample {
      var ce: [String: Any] = [
        "call": SubsetProofReport.call(c), "region": c.region, "base": c.base.description, "candidate": c.candidate.description,
      ]
      if let arch = c.arch {
        ce["arch"] = arch.name
        ce["syscall"] = c.name
        ce["number"] = Int(c.number)
        ce["args"] = c.args.map { $0 <= UInt64(Int.max) ? Int($0) as Any : ArgumentValue($0).hex as Any }
      }
      obj["counterexample"] = ce
      obj["sameSyscall"] = proof.sameSyscall.map { o in
        ["call": SubsetProofReport.call(o), "region": o.region, "base": o.base.description, "candidate": o.candidate.description] as [String: Any]
      }
    }
    return obj
  }
}

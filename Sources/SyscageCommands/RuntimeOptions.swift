import ArgumentParser
import Profiles
import Seccomp

extension RuntimeTarget: ExpressibleByArgument {
  public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// One line for stderr: which runtime calls were added (`what`: why they were missing,
/// `the program did not make`), and how to leave them out.
func runtimeAddedLine(_ selection: RuntimeSelection, added: [String], what: String, why: String? = nil) -> String {
  let selection = "\(selection)" + (why.map { " (\($0))" } ?? "")
  if added.isEmpty {
    return "syscage: note: for \(selection): nothing to add, the profile allows every call it makes after loading the container's filter"
  }
  return "syscage: note: for \(selection): also allowing the \(added.count) calls it makes after loading the container's filter that \(what): \(added.joined(separator: ", ")) (--for none leaves them out)"
}

/// The warnings for the runtime calls a profile's own rules refuse or kill.
func runtimeRefusalLines(_ review: RuntimeCallReview, severity: String = "warning") -> [String] {
  review.byRule.map { "syscage: \(severity): \($0.description) (lint --for: runtime-call-refused)" }
}

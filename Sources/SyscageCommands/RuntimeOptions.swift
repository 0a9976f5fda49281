import ArgumentParser
import Profiles
import Seccomp

extension RuntimeTarget: ExpressibleByArgument {
  public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// One line for stderr: which runtime calls were added (`RuntimeSelection.addedNote`).
func runtimeAddedLine(_ selection: RuntimeSelection, added: [String], what: String, why: String? = nil) -> String {
  "syscage: note: " + selection.addedNote(added, what: what, why: why)
}

/// The warnings for the runtime calls a profile's own rules refuse or kill.
func runtimeRefusalLines(_ review: RuntimeCallReview, severity: String = "warning") -> [String] {
  review.byRule.map { "syscage: \(severity): \($0.description) (lint --for: runtime-call-refused)" }
}

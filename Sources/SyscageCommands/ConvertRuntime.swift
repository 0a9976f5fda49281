import ArgumentParser
import Foundation
import Host
import Profiles
import Seccomp

/// `convert --for` and `--bundle`'s process: the runtime whose calls the output allows,
/// and the capabilities it is expanded for.
extension ConvertCommand {
  /// BUNDLE/config.json's process settings, with --bundle (65 when it cannot be read).
  func bundleProcess() throws -> OCIBundleProcess? {
    guard let bundle else { return nil }
    do {
      return try OCIBundleProcess.read(config: try OCIBundleFiles.readConfig(of: bundle), file: OCIBundleFiles.configPath(of: bundle))
    } catch let problem as OCIBundleFiles.Problem {
      throw fail(problem)
    } catch let error as InputError {
      throw fail(error)
    }
  }

  /// The host the expansion assumes: --caps, else the bundle's capabilities, else
  /// Docker's default set.
  func conversionContext(_ process: OCIBundleProcess?) throws -> ExpansionContext {
    let context = try policyArguments.context()
    guard let process, policyArguments.caps == nil else { return context }
    return ExpansionContext(native: context.native, capabilities: process.capabilities, kernel: context.kernel)
  }

  /// Where the capabilities of the expansion come from, for stderr.
  func capabilitiesSource(_ process: OCIBundleProcess?) -> String {
    if policyArguments.caps != nil { return "capabilities from --caps" }
    if let process { return "capabilities from \(process.capabilitiesSource)" }
    return "Docker's default capabilities"
  }

  /// --for (in the bundle's noNewPrivileges mode with --bundle), else runc for a bundle,
  /// else the output format's runtime; `--to docker` (a normalisation) adds nothing
  /// unless asked. The second value says why, for stderr.
  func runtimeSelection(_ process: OCIBundleProcess?) -> (RuntimeSelection, why: String) {
    let mode = process.map { "noNewPrivileges \($0.noNewPrivileges) from the bundle's process.noNewPrivileges" }
    if let choice = runtimeChoice {
      return (RuntimeSelection(choice, noNewPrivileges: process?.noNewPrivileges), mode ?? "--for")
    }
    if let process { return (RuntimeSelection(.runc, noNewPrivileges: process.noNewPrivileges), "a bundle runs under runc; \(mode!)") }
    if target == .docker { return (RuntimeSelection(.none), "") }
    let chosen = RuntimeTarget.defaultTarget(forFormat: target == .ociArtifact ? "oci" : target.rawValue)
    return (RuntimeSelection(chosen), "the default for --to \(target.rawValue)")
  }

  /// `source` with the runtime's calls after its filter allowed (an entry of their own),
  /// a note saying what was added, and a warning per runtime call a rule refuses or
  /// kills; with --strict such a call is an error (65) and nothing is written.
  func withRuntimeCalls(_ source: Profile, _ conversion: ConversionTarget, _ process: OCIBundleProcess?) throws -> Profile {
    let (selection, why) = runtimeSelection(process)
    guard !selection.isNone, !source.isDisabled else { return source }
    let options = PolicyOptions(context: conversion.context, arches: conversion.arches)
    let (profile, added, review) = selection.adding(to: source, options: options)
    let strict = policyArguments.strict
    for line in runtimeRefusalLines(review, severity: strict ? "error" : "warning") { printError(line) }
    if strict && !review.byRule.isEmpty {
      throw fail(
        "--strict: \(displayName) refuses calls \(selection) makes after loading the container's filter: the container would not start; nothing written",
        code: ExitStatus.dataError)
    }
    if !added.isEmpty || review.byRule.isEmpty {
      printError(runtimeAddedLine(selection, added: added, what: "\(displayName) does not allow", why: why))
    }
    return profile
  }
}

/// Prints why a bundle's configuration cannot be had and returns the data-error exit.
func fail(_ problem: OCIBundleFiles.Problem) -> ExitCode {
  switch problem {
  case .notADirectory(let bundle):
    fail("\(bundle): not a directory; --bundle wants an OCI bundle (a directory holding config.json)", code: ExitStatus.dataError)
  case .noConfig(let path):
    fail("\(path): no such file; an OCI bundle keeps its runtime configuration in config.json (`runc spec` makes one)", code: ExitStatus.dataError)
  case .unreadable(let path):
    fail("\(path): cannot read it", code: ExitStatus.dataError)
  }
}

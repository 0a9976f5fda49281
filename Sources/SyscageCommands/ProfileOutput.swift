import ArgumentParser
import Foundation
import OutputFiles
import Profiles
import Seccomp

/// Prints an output error and returns its exit: 64 when the output names an input, else `code`.
func fail(_ error: OutputError, code: Int32 = ExitStatus.cantCreate) -> ExitCode {
  fail(error.description, code: error.namesAnInput ? ExitStatus.usage : code)
}

/// Examines an output before any work is done (`-` is standard output): one that cannot
/// be created ends the command with 73, one that names an input with 64.
func checkedOutput(_ path: String, inputs: [String]) throws -> OutputFile {
  do {
    return try OutputFile(path, inputs: inputs)
  } catch {
    throw fail(error)
  }
}

/// Writes `bytes` to `output` (examined before), or to standard output without one; a
/// failure ends the command with 73.
func emit(_ bytes: [UInt8], to output: OutputFile?) throws {
  do {
    try (output ?? OutputFile.standardOutput).write(bytes)
  } catch {
    throw fail(error)
  }
}

/// For the commands that wrap a program, after it ran: writes `bytes` to `output`; when
/// that fails, says why, saves them in a new file in $TMPDIR (else /tmp), says where,
/// and ends the command with 125. What was recorded or learnt is never lost.
func writeOrSave(_ bytes: [UInt8], to output: String, inputs: [String], what: String) throws {
  do {
    try OutputFile(output, inputs: inputs).write(bytes)
    return
  } catch {
    printError("syscage: \(error)")
  }
  let ext = (output as NSString).pathExtension
  do {
    let saved = try OutputFile.saveInTemporaryDirectory(
      bytes, prefix: "syscage-" + what.replacingOccurrences(of: " ", with: "-"), suffix: ext.isEmpty ? "json" : ext)
    printError("syscage: the \(what) is saved in \(saved)")
  } catch {
    printError("syscage: \(error); the \(what) follows on standard error")
    FileHandle.standardError.write(Data(bytes))
  }
  throw ExitCode(125)
}

/// `writeOrSave` for a rendered profile: a k8s-pod rendering goes into the directory
/// `output` (else into a new directory in $TMPDIR, else its files on standard error),
/// every other one into the file.
func writeOrSave(_ rendered: RenderedProfile, to output: String, inputs: [String], what: String) throws {
  guard case .kubernetes(let pod) = rendered.content else {
    return try writeOrSave(rendered.bytes, to: output, inputs: inputs, what: what)
  }
  let files = KubernetesPodConversion.files(name: pod.name, patch: false)
  do {
    try writeKubernetes(pod, into: try OutputDirectory(output, files: files, inputs: inputs))
    return
  } catch {
    printError("syscage: \(error)")
  }
  do {
    let dir = try OutputDirectory.temporary(prefix: "syscage-" + what.replacingOccurrences(of: " ", with: "-"), files: files)
    try writeKubernetes(pod, into: dir)
    printError("syscage: the \(what) is saved in \(dir.path)")
  } catch {
    printError("syscage: \(error); the \(what) follows on standard error")
    FileHandle.standardError.write(Data(pod.combined.utf8))
  }
  throw ExitCode(125)
}

/// A profile's Docker or OCI JSON as it is (not expanded), as the renderer writes it.
func profileJSON(_ profile: Profile, as format: OutputFormat) throws -> [UInt8] {
  do {
    return try ProfileRendering.render(profile, as: format).bytes
  } catch {
    throw fail("\(error)", code: ExitStatus.dataError)
  }
}

/// Prints a rendering's notes, and what its format cannot say as warnings, or with
/// `strict` as errors: then nothing is written and the command ends with 65 (`what`
/// names the input in that message).
func report(_ rendered: RenderedProfile, format: OutputFormat, strict: Bool = false, what: String = "") throws {
  for note in rendered.notes { printError("syscage: note: \(note)") }
  let severity = strict ? "error" : "warning"
  for w in rendered.warnings { printError("syscage: \(severity): \(w)") }
  if strict && !rendered.warnings.isEmpty {
    throw fail("--strict: the \(format.rawValue) form cannot say exactly what \(what) says; nothing written", code: ExitStatus.dataError)
  }
}

/// Examines a k8s-pod output directory before any work: an existing file is a usage
/// error (64); a directory that cannot be created (its parent missing or read-only) 73.
func checkedKubernetesDirectory(_ dir: String, name: String, patch: Bool, inputs: [String]) throws -> OutputDirectory {
  var isDirectory: ObjCBool = false
  if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), !isDirectory.boolValue {
    throw fail(
      "\(dir) is a file; the k8s-pod format writes a directory (\(patch ? "pod-patch.yaml" : "pod.yaml") and profiles/NAME.json)",
      code: ExitStatus.usage)
  }
  do {
    return try OutputDirectory(dir, files: KubernetesPodConversion.files(name: name, patch: patch), inputs: inputs)
  } catch {
    throw fail(error)
  }
}

/// A Kubernetes conversion without a directory: the Pod (or the patch) alone on standard
/// output, a YAML stream `kubectl apply -f -` takes; stderr says how to get the profile file.
func printKubernetes(_ pod: KubernetesPodConversion) throws {
  try emit(Array(pod.manifest.utf8), to: nil)
  printError(
    "syscage: standard output has the \(pod.isPatch ? "patch" : "Pod") only; give -o DIR to write the profile file too "
      + "(DIR/\(pod.localhostProfile)), then copy it to \(pod.nodePath) on every node")
}

/// Writes DIR/pod.yaml (pod-patch.yaml) and DIR/profiles/NAME.json, creating DIR and
/// DIR/profiles when missing, each file atomically; says where the profile goes on the nodes.
func writeKubernetes(_ pod: KubernetesPodConversion, into dir: OutputDirectory) throws(OutputError) {
  let files = KubernetesPodConversion.files(name: pod.name, patch: pod.isPatch)
  let out = dir.files == files ? dir : try OutputDirectory(dir.path, files: files, inputs: dir.inputs)
  let written = try out.write(pod.fileContents)
  printError("syscage: wrote \(written.joined(separator: " and "))")
  let root = String(pod.nodePath.dropLast(pod.localhostProfile.count + 1))
  let rootOption = root == KubernetesPodConversion.defaultSeccompRoot ? "" : " --root \(root)"
  printError(
    "syscage: copy the profile to \(pod.nodePath) on every node: syscage install \(written[1]) --kubelet --name \(pod.name)\(rootOption)")
}

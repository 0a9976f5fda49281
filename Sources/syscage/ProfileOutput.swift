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

/// The files a Kubernetes conversion writes into its directory.
func kubernetesFiles(name: String, patch: Bool) -> [String] {
  [patch ? "pod-patch.yaml" : "pod.yaml", "profiles/\(name).json"]
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
    return try OutputDirectory(dir, files: kubernetesFiles(name: name, patch: patch), inputs: inputs)
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
  let out = dir.files == kubernetesFiles(name: pod.name, patch: pod.isPatch)
    ? dir : try OutputDirectory(dir.path, files: kubernetesFiles(name: pod.name, patch: pod.isPatch), inputs: dir.inputs)
  let written = try out.write([Array(pod.manifest.utf8), Array(pod.profileJSON.utf8)])
  printError("syscage: wrote \(written.joined(separator: " and "))")
  let root = String(pod.nodePath.dropLast(pod.localhostProfile.count + 1))
  let rootOption = root == KubernetesPodConversion.defaultSeccompRoot ? "" : " --root \(root)"
  printError(
    "syscage: copy the profile to \(pod.nodePath) on every node: syscage install \(written[1]) --kubelet --name \(pod.name)\(rootOption)")
}

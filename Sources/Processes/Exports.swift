/// The errno of every failure (`Launcher.Failure`, `Tracer.AttachFailure`, the recorders')
/// is swift-system's `Errno`; a client of Processes sees it with this module.
@_exported import struct SystemPackage.Errno

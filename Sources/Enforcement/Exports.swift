/// The launch vocabulary (`Launcher`, `Termination`, `Launcher.Failure`) is Processes'; a
/// client of Enforcement sees it with this module.
@_exported import Processes

import SyscageCommands

Syscage.main()

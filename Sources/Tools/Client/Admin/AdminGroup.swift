import ArgumentParser

/// `spike admin`: the people who can recover the system with a password.
struct AdminGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Admins whose passwords recover the root key when every Keeper is lost (superuser).",
        subcommands: [AdminPasswordGroup.self])
}

/// `spike admin password add|change|remove|list`.
struct AdminPasswordGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "password",
        abstract: "Add, change, remove or list admin passwords; each wraps the root key on its own.",
        discussion: """
        Every admin's password wraps the root key separately (scrypt), in the log, so that no one
        person is the only way back. The last admin cannot be removed. `list` shows names and
        dates, never a wrap. Passwords come from --password-file, a hidden prompt on a terminal,
        or standard input; never from an argument.
          spike admin password add alice
          spike admin password change alice --password-file ./new-password
          spike admin password list
        """,
        subcommands: [AdminPasswordAdd.self, AdminPasswordChange.self, AdminPasswordRemove.self, AdminPasswordList.self])
}

import ArgumentParser

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "A local development trust domain (no SPIRE needed).",
        subcommands: [DevUp.self, DevStatus.self, DevDown.self, DevStart.self, DevStop.self, DevDrill.self, DevCA.self, DevAgent.self, DevFetch.self]
    )
}

struct DevCA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "A development certificate authority that issues X.509-SVIDs as files.",
        subcommands: [DevCAInit.self, DevCAIssue.self]
    )
}

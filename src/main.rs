fn main() -> std::process::ExitCode {
    oodcal::cli::main()
}

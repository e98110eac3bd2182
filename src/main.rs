fn main() -> std::process::ExitCode {
    haven::cli::main()
}

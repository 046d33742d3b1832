"""The error raised for bad input to the report and check commands (the CLI turns it into exit code 2)."""


class ReportInputError(ValueError):
    """Input the report cannot use (wrong file, unknown profile, mixed data); the message names the fix."""

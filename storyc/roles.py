"""The agent roles into the tools storyc offers each: what the plan document says and what the tool loop allows."""

# Each role is offered its own tools only (the seed's section 1).
ROLE_TOOLS: dict[str, tuple[str, ...]] = {
    "builder": ("Read", "Write", "Edit", "Bash"),
    "validator": ("Bash", "Read", "Grep"),
    "reviewer": ("Read", "Grep", "Glob"),
}

"""Reference data the clock relies on, kept as code so a change is reviewed like one."""

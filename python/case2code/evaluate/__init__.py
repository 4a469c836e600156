"""`c2c eval`: grade a model's code induction on Case2Code tasks in the sandbox."""

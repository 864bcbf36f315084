"""Control: where a session runs (in this process or a child process) behind one controller API."""

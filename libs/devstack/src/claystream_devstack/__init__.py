"""Local embedded stack: real wire-protocol servers started as child processes."""

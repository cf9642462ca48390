# sessionPersistence for the C event loop (loop_sessions.pyx), reached through the function table it
# publishes (loop_types.SessionHooks, ``hooks_address``) rather than cimported, so that the loop
# builds and runs without it when OpenSSL's headers are missing (setup.py then skips this module).

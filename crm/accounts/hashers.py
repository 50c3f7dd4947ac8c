from django.contrib.auth.hashers import Argon2PasswordHasher


class TunedArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with 19 MiB, t=2, p=1 (OWASP's first profile): a login stays near 20–40 ms on 2 cores."""

    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1

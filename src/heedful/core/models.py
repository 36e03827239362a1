from django.db import connection, models


class Counter(models.Model):
    """A named sequence for human numbers (conversation #1042).

    Incremented with UPDATE ... RETURNING inside the caller's transaction, so
    numbers are gapless and unique without a table scan.
    """

    name = models.CharField(max_length=50, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"

    @classmethod
    def next(cls, name: str, count: int = 1) -> int:
        """Reserve `count` numbers and return the last one."""
        table = cls._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET value = value + %s WHERE name = %s RETURNING value",
                [count, name],
            )
            row = cursor.fetchone()
        if row is None:
            cls.objects.get_or_create(name=name)
            return cls.next(name, count)
        return int(row[0])


class ConsumerCursor(models.Model):
    """How far one outbox consumer has read the ConversationEvent table."""

    name = models.CharField(max_length=80, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}@{self.position}"

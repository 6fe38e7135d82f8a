"""data-processor: sum and average of `numbers` (Ilúvatar signature: main(args: dict))."""


def main(args):
    numbers = args.get("numbers", [])
    if not isinstance(numbers, list) or not all(isinstance(n, (int, float)) for n in numbers):
        raise ValueError("'numbers' must be a list of numbers")
    total = sum(numbers)
    return {"count": len(numbers), "sum": total, "average": total / len(numbers) if numbers else None}

"""mem-hog: allocates `mb` megabytes (default 10) and touches every page."""


def main(args):
    mb = int(args.get("mb", 10))
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return {"allocated_mb": mb}

from lightning_td3.cli import main

main()

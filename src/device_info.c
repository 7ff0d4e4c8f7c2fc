/* placeholder: being written */ typedef int placeholder_device_info;
